"""xlmr_user: a fairseq plugin (``--user-dir``) for RoBERTa / XLM-R style
encoders and language models.

fairseq itself is *not* listed in ``install_requires``: the maintained fork we
use (``fairseq-fixed==0.12.3.1``) declares torchaudio, which would replace the
CPU torch with a multi-GB build.  ``make install`` installs it with
``--no-deps`` and installs fairseq's real runtime dependencies from
``requirements.txt``.
"""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def read_requirements():
    reqs = []
    for line in (HERE / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            reqs.append(line)
    return reqs


setup(
    name="xlmr_user",
    version="0.3.0",
    description="fairseq plugin: text classification and language modelling "
    "for RoBERTa / XLM-R style models",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=find_packages(include=["xlmr_user", "xlmr_user.*"]),
    package_data={"xlmr_user": ["config/*.yaml"]},
    install_requires=read_requirements(),
    extras_require={
        "test": ["pytest", "pytest-xdist", "seqeval", "conlleval"],
        "bench": ["transformers>=4.40", "sklearn-crfsuite"],
    },
    entry_points={
        "console_scripts": [
            "xlmr-prepare-classification=xlmr_user.cli.prepare_classification:main",
            "xlmr-user-dir=xlmr_user.cli.check_install:print_user_dir",
            "xlmr-check-install=xlmr_user.cli.check_install:main",
            "xlmr-predict=xlmr_user.cli.predict:main",
            "xlmr-evaluate=xlmr_user.cli.evaluate:main",
            "xlmr-serve=xlmr_user.cli.serve:main",
            "xlmr-export=xlmr_user.cli.export:main",
            "xlmr-export-pretrained=xlmr_user.cli.export_pretrained:main",
            "xlmr-prepare-pretraining=xlmr_user.cli.prepare_pretraining:main",
            "xlmr-prepare-tagging=xlmr_user.cli.prepare_tagging:main",
            "xlmr-import-hf=xlmr_user.cli.import_hf:main",
            "xlmr-export-hf=xlmr_user.cli.export_hf:main",
        ],
    },
)
