"""``xlmr-serve``'s settings: one pydantic model, the single source of its defaults,
limits and help texts; the command line is generated from it."""
import argparse
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import ConfigError
from ..prep.files import MODEL_FILE


class ServeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model_dir: str = Field(description="xlmr-export directory (classifier, masked LM), or an LM data-bin")
    checkpoint_file: str = Field(MODEL_FILE, description="relative to MODEL_DIR or absolute")
    host: str = Field("127.0.0.1", description="address to bind (default: this machine only)")
    port: int = Field(8000, ge=0, le=65535, description="TCP port")
    device: Literal["cpu", "cuda"] = Field("cpu", description="where the model runs")
    threads: int = Field(0, ge=0, description="torch threads (default 0: torch's choice)")
    workers: int = Field(0, ge=0, description=(
        "model threads running batches side by side, sharing --threads (default 0: 2 on the CPU "
        "unless --threads is 1, 1 on CUDA)"))
    max_batch_size: int = Field(32, ge=1, description="texts per model batch")
    max_tokens: int = Field(512, ge=0, description=(
        "tokens per call of the model, padding included: a batch runs as length-sorted parts, so "
        "short texts do not pay for a long one's padding (0: one call)"))
    max_batch_delay_ms: float = Field(0.0, ge=0, description=(
        "how long the first request of a batch waits for others (default 0: the model takes what "
        "is queued as soon as it is free; requests that arrive while it runs form the next batch)"))
    max_queue: int = Field(1024, ge=1, description="texts waiting at most; then 503")
    max_texts: int = Field(256, ge=1, description="texts per request at most (413)")
    max_chars: int = Field(10_000, ge=1, description="characters per text at most (413)")
    api_key_file: Optional[str] = Field(None, description="file holding the bearer token required on /v1/*")
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="uvicorn's log level (debug: every request)")


def read_api_key(path: str) -> str:
    import os

    if not os.path.isfile(path):
        raise ConfigError(f"{path}: no such file (--api-key-file)")
    with open(path, encoding="utf-8") as f:
        key = f.read().strip()
    if not key or any(c.isspace() for c in key):
        raise ConfigError(f"{path}: the token must be one non-empty word (--api-key-file)")
    return key


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One argument per field of :class:`ServeConfig` (``model_dir`` positional)."""
    for name, f in ServeConfig.model_fields.items():
        kwargs = {"help": f.description}
        choices = getattr(f.annotation, "__args__", None) if "Literal" in str(f.annotation) else None
        if choices:
            kwargs["choices"] = list(choices)
        elif f.annotation in (int, float):
            kwargs["type"] = f.annotation
        if name == "model_dir":
            parser.add_argument(name, **kwargs)
        else:
            if f.description and f.default is not None and "default" not in f.description:
                kwargs["help"] = f"{f.description} (default {f.default})"
            parser.add_argument("--" + name.replace("_", "-"), default=f.default, **kwargs)


def from_arguments(args: argparse.Namespace) -> ServeConfig:
    try:
        return ServeConfig(**vars(args))
    except ValidationError as e:
        err = e.errors()[0]
        flag = "--" + str(err["loc"][0]).replace("_", "-")
        raise ConfigError(f"{flag} {args.__dict__.get(err['loc'][0])}: {err['msg'].lower()}") from None
