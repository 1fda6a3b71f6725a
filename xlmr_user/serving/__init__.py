"""``xlmr-serve``: an HTTP service for the model directories the plugin writes.

* :mod:`.backends`: load a model directory (classifier, language model or
  masked LM) and run one batch of inputs;
* :mod:`.batcher`: the one model worker, a bounded queue, dynamic batching;
* :mod:`.app`: the FastAPI application (endpoints, limits, token, metrics);
* :mod:`xlmr_user.cli.serve`: the console script (uvicorn).
"""
