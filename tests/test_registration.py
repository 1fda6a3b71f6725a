"""Everything the plugin registers is visible to fairseq's command line (its --help,
parsed in this process as fairseq-train parses it)."""
import pytest

from helpers import USER_DIR, build_task


def help_text(capsys, *argv) -> str:
    import xlmr_user
    from fairseq import options

    xlmr_user.register()
    with pytest.raises(SystemExit) as e:
        options.parse_args_and_arch(options.get_training_parser(), [*argv, "--help"])
    assert e.value.code == 0
    return capsys.readouterr().out


def test_components_show_in_fairseq_train_help(capsys):
    out = help_text(capsys, "--user-dir", USER_DIR, "--task", "text_classification",
                    "--criterion", "label_smoothed_classification", "--arch", "xlmr_tiny")
    for flag in ("--num-classes", "--max-positions", "--init-token", "--separator-token",
                 "--shorten-method", "--label-smoothing", "--classification-head-name",
                 "--encoder-layers", "--batching", "--lora-rank", "--rotary"):
        assert flag in out, flag
    # the --criterion choices and the plugin's epilog name every component
    assert "label_smoothed_classification" in out.split("--criterion {", 1)[1].split("}", 1)[0]
    compact = "".join(out.split())
    for name in ("text_classification", "label_smoothed_classification", "xlmr_tiny",
                 "xlmr_small", "xlmr_base", "xlmr_large"):
        assert name in compact, name


def test_general_help_lists_the_plugin_components(capsys):
    out = help_text(capsys, "--user-dir", USER_DIR)
    assert "xlmr_user components (--user-dir)" in out
    compact = "".join(out.split())
    assert "xlmr_large" in compact and "sdpa_transformer_lm_wt2" in compact
    for name in ("optimizer:muon", "bilstm_classifier", "sdpa_transformer_lm_wt2_small_modern"):
        assert name in compact, name


def test_architecture_sizes(toy_bin):
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
