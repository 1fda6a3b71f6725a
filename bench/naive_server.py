"""The serving baseline fairseq users write today: a minimal web app that calls
the hub interface's ``predict`` once per request, no batching (run by
``python -m bench serve``; same FastAPI/uvicorn stack as ``xlmr-serve``).

    python bench/naive_server.py MODEL_DIR PORT THREADS
"""
import sys

import torch
import uvicorn
from fastapi import FastAPI

from xlmr_user.inference.model_dir import load_classifier

model_dir, port, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)
hub = load_classifier(model_dir)
head = hub.task.cfg.classification_head_name
labels = hub.task.label_dictionary
app = FastAPI()


@app.post("/v1/classify")
def classify(body: dict):
    outputs = []
    for text in body["inputs"]:
        with torch.inference_mode():
            probs = hub.predict(head, hub.encode(text)[: hub.task.cfg.max_positions]).exp()[0]
        i = int(probs.argmax())
        outputs.append({"label": labels[i + labels.nspecial], "probability": float(probs[i])})
    return {"outputs": outputs}


@app.get("/health")
def health():
    return {"status": "ready"}


uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
