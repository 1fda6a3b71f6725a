"""Everything the plugin registers is visible to fairseq's command line."""
from conftest import USER_DIR, fairseq


def test_components_show_in_fairseq_train_help():
    out = fairseq("train", "--user-dir", USER_DIR, "--task", "text_classification",
                  "--criterion", "label_smoothed_classification", "--arch", "xlmr_tiny",
                  "--help").stdout
    for flag in ("--num-classes", "--max-positions", "--init-token", "--separator-token",
                 "--shorten-method", "--label-smoothing", "--classification-head-name",
                 "--encoder-layers"):
        assert flag in out, flag
    # the --criterion choices and the plugin's epilog name every component
    assert "label_smoothed_classification" in out.split("--criterion {", 1)[1].split("}", 1)[0]
    compact = "".join(out.split())
    for name in ("text_classification", "label_smoothed_classification", "xlmr_tiny",
                 "xlmr_small", "xlmr_base", "xlmr_large"):
        assert name in compact, name


def test_general_help_lists_the_plugin_components():
    out = fairseq("train", "--user-dir", USER_DIR, "--help").stdout
    assert "xlmr_user components (--user-dir)" in out
    compact = "".join(out.split())
    assert "xlmr_large" in compact and "sdpa_transformer_lm_wt2" in compact
    for name in ("optimizer:muon", "bilstm_classifier", "sdpa_transformer_lm_wt2_small_modern"):
        assert name in compact, name


def test_architecture_sizes(toy_bin):
    from conftest import build_task
    from xlmr_user.utils.params import count_parameters

    sizes = {}
    for arch in ("xlmr_tiny", "xlmr_small"):
        _, model, _, cfg = build_task(toy_bin, arch=arch)
        enc = model.encoder.sentence_encoder
        assert enc.embed_tokens.embedding_dim == cfg.model.encoder_embed_dim
        assert enc.layers[0].fc1.out_features == cfg.model.encoder_ffn_embed_dim
        assert len(enc.layers) == cfg.model.encoder_layers
        sizes[arch] = count_parameters(model)[0]
    assert (cfg.model.encoder_layers, cfg.model.encoder_embed_dim) == (4, 256)
    assert sizes["xlmr_tiny"] < 200_000 < sizes["xlmr_small"]
