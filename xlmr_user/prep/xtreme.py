"""Get XTREME's tagging datasets as ``DEST/LANG/{train,dev,test}.tsv`` (``token<TAB>tag``,
a blank line between sentences), the layout of ``../shared/data/{wikiann,udpos}``:

* ``wikiann``: WikiANN (PAN-X) NER, the balanced splits of Rahimi et al. (2019): the
  archive XTREME and the ``datasets`` library read (``panx_dataset.zip``: a ``LANG.tar.gz``
  per language with ``train``/``dev``/``test`` lines ``lang:token<TAB>tag``), each
  language's files unpacked with the ``lang:`` prefix removed, as XTREME's
  ``panx_preprocess`` does;
* ``udpos``: Universal Dependencies 2.5 part-of-speech tags: the UD release, every
  treebank of a language merged per split as XTREME's ``udpos_preprocess`` does (multi-word
  token ranges and empty nodes dropped, sentences whose words are mostly ``_`` dropped,
  spaces inside a word and ZWNJ removed), ``token<TAB>UPOS``.

``--from DIR``: a local copy in the output layout (``LANG/*.tsv``), copied as is.  Either
way every file whose reference checksum is recorded here (those of the copies the
benchmarks use) is compared, and a difference is a warning naming the file (a sample,
another release, or a conversion that differs from XTREME's in some detail).  The archives
themselves are downloaded once into the cache folder; the output folder is written
atomically.
"""
from __future__ import annotations

import io
import logging
import os
import shutil
import tarfile
import zipfile
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from ..errors import DataError
from .atomic_dir import atomic_output_dir
from .download import fetch, sha256
from .files import languages_in, local_languages

logger = logging.getLogger("xlmr_user.prep.xtreme")

SPLITS = ("train", "dev", "test")
TEST_ONLY = ("test",)  # a language folder: test.tsv at least (UD-POS has train and dev in English only)
URLS = {"wikiann": "https://s3.amazonaws.com/datasets.huggingface.co/wikiann/1.1.0/panx_dataset.zip",
        "udpos": "https://lindat.mff.cuni.cz/repository/xmlui/bitstream/handle/11234/1-3105/ud-treebanks-v2.5.tgz"}
DEFAULT_LANGS = {"wikiann": ["en", "el", "ja", "uk", "vi", "zh", "ar", "hi", "ru", "fr", "de", "es"],
                 "udpos": ["en", "el", "ja", "uk", "vi", "zh", "ar", "hi", "ru", "fr", "es"]}
UD_NAMES = {"ar": "Arabic", "de": "German", "el": "Greek", "en": "English", "es": "Spanish", "fr": "French",
            "hi": "Hindi", "ja": "Japanese", "ru": "Russian", "uk": "Ukrainian", "vi": "Vietnamese",
            "zh": "Chinese"}
# sha256 of the reference copies (../shared/data), per (dataset, lang, split)
SHA256: Dict[Tuple[str, str, str], str] = {
    ("wikiann", "ar", "dev"): "20426640430d3732540f38c018bef98ab971286bedf0969f60305dd3f725ccdc",
    ("wikiann", "ar", "test"): "0d8ac9b292a4827d834fb4017af9aca7c6a5ef16e0142736af591aba3b66aaf3",
    ("wikiann", "ar", "train"): "391c916d60975b9e6cbd5863af5940626f8d63c2337935ee94a36f3f9b95367e",
    ("wikiann", "de", "dev"): "b50464f9f7ff287b48b5d37906c7f36e19340b659e05456e163fb54a626d03d0",
    ("wikiann", "de", "test"): "94d48947f737603182e5bf1b9acfb644fd7f17a369f2010346b7e278446637d7",
    ("wikiann", "de", "train"): "f7d9ebbe2f856aa8162b73a108b659d86dfd1fe9ee42294d39f0afbfa95092fe",
    ("wikiann", "el", "dev"): "49669b002c9bb0b409b185e3c3239d95daeb30298c4f3dc1f2c52db3e63de2d9",
    ("wikiann", "el", "test"): "9c6434b2a555ae53fbbed88a2ce1c6f8ab2b21c861646e15247ca34f826a36ef",
    ("wikiann", "el", "train"): "d69afe18e8290926183b9781cb2e14aa552210a20c45bb5a42c8963dad4ddeea",
    ("wikiann", "en", "dev"): "d70ce55d6e88b6c4cabcd8dbb927219c1dd4cd1c523ff045c7994527ce5fa782",
    ("wikiann", "en", "test"): "188a37dcd7320ef600e354b6cda3a3abe78ca8250e8a675facdcb81a188719cb",
    ("wikiann", "en", "train"): "28f5492d1cfd0be1b936a4d40a7d17568df66957a77fd608f94bd6c0862f27d8",
    ("wikiann", "es", "dev"): "6ef2f9620cd45c1743278e9c5edb52a29767548e436509eed4c70583f867a6e2",
    ("wikiann", "es", "test"): "3b8e02cdb47a4819b15b6866c73f629c8c12e43bfe009765b81a2450f39b344e",
    ("wikiann", "es", "train"): "f6840be65295e847e0e9187fb978f6ac6a6abcec969742fb09163b6e11372614",
    ("wikiann", "fr", "dev"): "1e318728f3881c25e01e6c02c4c7f2e220ff6fe77fb45a7bd829985236309fcc",
    ("wikiann", "fr", "test"): "77c050cf4bd6e9cc15144eafb4f7e0fdc7b3d14e9df3bd1d7219647364056ecd",
    ("wikiann", "fr", "train"): "2321cd0369287f5996d6a52571083ec5e16dce458cd7a95beb665c24518f0a93",
    ("wikiann", "hi", "dev"): "440eadf30016255ae067ecfb25a49b6f564a558bd25fa085b9b84e17328c02d4",
    ("wikiann", "hi", "test"): "c8c128eecaea44e8b07c956702d9e283d476c804f9e535b0321463ee230837bd",
    ("wikiann", "hi", "train"): "127820e7bd67dc0f696742e660895b125d9c01da610410c38d58cbeff4663aed",
    ("wikiann", "ja", "dev"): "18f9faa6742e6938fb08673c654b0f6a89ff0789d9a0eda6c7dd3bef5dac38cd",
    ("wikiann", "ja", "test"): "dd7deab5e82d90d32a00018a7698e9d7b55e8100f4a6ac1dd629a9ff38e770e6",
    ("wikiann", "ja", "train"): "6dd7e2fb09821ff3fa9ca43527b257d7e5286131f1bf924a65a2874e263aeac2",
    ("wikiann", "ru", "dev"): "7ad3ff8c6490f596e202776ef82b726cad89f29ad24e2073def730a7a540dd3b",
    ("wikiann", "ru", "test"): "97cb5a8afb35f64264d351ff14e44842f8d804c154507c304a74cb4e2972a8ea",
    ("wikiann", "ru", "train"): "014c135f121e8fd555481ba6ef816b1f2766ddf899f670e29b9abd36dad52d82",
    ("wikiann", "uk", "dev"): "87b1e078fed803b4c5934b4b7d4655c4fde1eba8cd618979e1d929c87467328a",
    ("wikiann", "uk", "test"): "68f25554314cff7ac0687da40ee2e007037b4eb5a16be156a001e1347d3eb082",
    ("wikiann", "uk", "train"): "a1c8057598a1afb42c0341a7aaf44b9bfa8b6ec37184ca72423c1967c6557de8",
    ("wikiann", "vi", "dev"): "aa11a22666940532caa650d8b34d108a5a52ff581f25abf348c83f40439b730b",
    ("wikiann", "vi", "test"): "353a0ef9ec284ac912424447b2e2852d30baeb245d0a5fd0e786176f1bfaebc6",
    ("wikiann", "vi", "train"): "89c68c3b03a9f38257612c8eae2847b4036eb566fe5ea36b6c90673e22ac61e6",
    ("wikiann", "zh", "dev"): "e0f717f66575bf62cd6229c4efa444e87200078bd4076f43fbc1f23bebdffc85",
    ("wikiann", "zh", "test"): "23f705c6057e8f066b2c5f0331ed54ab49f30ba50a621d44a3266eaff9ef4731",
    ("wikiann", "zh", "train"): "0f1bfc669d88118d6639d011196f10f10c8ae5ed2f7ebfd9b27957af4f3dccb8",
    ("udpos", "ar", "test"): "ffd7ce8fc18726c1b153111610407654d4700d75a9b6f4ae1b314cc5171b96c0",
    ("udpos", "el", "test"): "910d4f5bde22f7e84b5ad7a7c4653dc071280035797349c2c6102d0786ae5f0b",
    ("udpos", "en", "dev"): "53d5f5db3ddf8ef92eae04a39d4dcb605803f43170bb8f10e2f955b97be4d958",
    ("udpos", "en", "test"): "8b821e0696464ee2a5c4091be1c34c8636e248fc7f59b74f03f1b8a2903f7743",
    ("udpos", "en", "train"): "f5b41f6d14792e51544fb30e7f5cd5a319ecf6695138228cfb2e5bbe05406217",
    ("udpos", "es", "test"): "e00e5b34319c0c18cb95c96cb043d509022c2dac81d1d160ed3a3ab568036e5e",
    ("udpos", "fr", "test"): "18088fd47ee256217d7bd81d10958414d25febb6b6bffd9acb837f00553c629d",
    ("udpos", "hi", "test"): "30258bc5621344da4502c79e4371d6429c3a64abcce7a477f59948d9ab256918",
    ("udpos", "ja", "test"): "6108c24096cd5856749adb560e62f309a82bd9949fc6affecb101fbd8888d4b2",
    ("udpos", "ru", "test"): "cce5e35eb12e4144f0b2fee206512f74d3f738875321cf359e048be8a6bcc9cd",
    ("udpos", "uk", "test"): "d309f0c9d4d193bef896443ecd4ddaa47edca67e95cc612dc9de2067afc1d60f",
    ("udpos", "vi", "test"): "c61e55c9b091ce7aea79d58e0deb9c6c0cd23e00864f6ee4f2fa02bac0a81db4",
    ("udpos", "zh", "test"): "70b7c37f955ffc197588f53cf3a6f9bb38c444db51ff82e269ef15a1146b793b",
}
Sentence = List[Tuple[str, str]]


def write_sentences(path: str, sentences: Iterable[Sentence]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for sent in sentences:
            f.write("".join(f"{w}\t{t}\n" for w, t in sent) + "\n")


def panx_sentences(lines: Iterable[bytes]) -> List[Sentence]:
    """``lang:token<TAB>tag`` lines -> sentences of (token, tag) (XTREME's panx_preprocess)."""
    out, sent = [], []
    for raw in lines:
        items = raw.decode("utf-8").strip().split("\t")
        if len(items) == 2:
            prefix, _, token = items[0].partition(":")
            if token.strip():
                sent.append((token.strip(), items[1].strip()))
        elif sent:
            out.append(sent)
            sent = []
    return out + ([sent] if sent else [])


def ud_sentences(text: str) -> List[Sentence]:
    """A CoNLL-U file -> (word, UPOS) sentences, as XTREME's udpos_preprocess keeps them."""
    out, sent = [], []
    for line in text.splitlines() + [""]:
        items = line.strip().split("\t")
        if len(items) == 10 and not line.startswith("#"):
            if "-" in items[0] or "." in items[0]:
                continue
            sent.append((items[1].strip(), items[3].strip()))
            continue
        if line.strip() or not sent:
            continue
        empty = sum(w == "_" for w, _ in sent)
        if empty == 0 or empty < len(sent) - 1:
            out.append([("".join(w.replace("\u200c", "").split(" ")), t) for w, t in sent])
        sent = []
    return out


def unpack_panx(archive: str, lang: str, dest: str) -> None:
    with zipfile.ZipFile(archive) as z:
        name = f"{lang}.tar.gz"
        if name not in z.namelist():
            raise DataError(f"{archive}: no {name}; WikiANN has no language '{lang}'")
        with tarfile.open(fileobj=io.BytesIO(z.read(name))) as tar:
            members = {os.path.basename(m.name): m for m in tar.getmembers() if m.isfile()}
            for split in SPLITS:
                if split not in members:
                    raise DataError(f"{archive}: {name} has no '{split}' file")
                write_sentences(os.path.join(dest, f"{split}.tsv"),
                                panx_sentences(tar.extractfile(members[split])))


def unpack_ud(archive: str, langs: Sequence[str], dest: str) -> None:
    """Every treebank of each language (folders UD_<Language>-<Treebank>), merged per split."""
    wanted = {UD_NAMES[l]: l for l in langs}
    merged: Dict[Tuple[str, str], List[Sentence]] = {}
    with tarfile.open(archive) as tar:
        for m in sorted(tar.getmembers(), key=lambda m: m.name):
            parts = m.name.split("/")
            if not (m.isfile() and m.name.endswith(".conllu") and len(parts) >= 2):
                continue
            language = parts[-2][3:].split("-")[0] if parts[-2].startswith("UD_") else ""
            split = next((s for s in SPLITS if f"-ud-{s}" in parts[-1]), None)
            if language in wanted and split:
                text = tar.extractfile(m).read().decode("utf-8")
                merged.setdefault((wanted[language], split), []).extend(ud_sentences(text))
    for lang in langs:
        if (lang, "test") not in merged:
            raise DataError(f"{archive}: no UD_{UD_NAMES[lang]}-* treebank with a test file")
        os.makedirs(os.path.join(dest, lang), exist_ok=True)
        for split in SPLITS:
            if (lang, split) in merged:
                write_sentences(os.path.join(dest, lang, f"{split}.tsv"), merged[(lang, split)])


def compare_checksums(dataset: str, folder: str, langs: Sequence[str], shown: str) -> None:
    for lang in langs:
        for split in SPLITS:
            path = os.path.join(folder, lang, f"{split}.tsv")
            expected = SHA256.get((dataset, lang, split))
            if expected and os.path.isfile(path) and sha256(path) != expected:
                logger.warning("%s/%s/%s.tsv: differs from the reference copy (sha256); using it as it is",
                               shown, lang, split)


def get(dataset: str, dest: str, langs: Optional[Sequence[str]] = None, src: Optional[str] = None,
        cache_dir: str = "downloads", force: bool = False) -> List[str]:
    """Fill ``dest`` with ``dataset`` (wikiann or udpos); return the languages it holds."""
    if dataset not in URLS:
        raise DataError(f"--dataset {dataset}: choose wikiann or udpos")
    if src is not None:
        langs = local_languages(src, langs, TEST_ONLY)
    langs = list(langs or DEFAULT_LANGS[dataset])
    unknown = [l for l in langs if dataset == "udpos" and l not in UD_NAMES]
    if unknown:
        raise DataError(f"--langs: no UD treebank name known for {', '.join(unknown)} (known: {', '.join(UD_NAMES)})")
    if set(langs) <= set(languages_in(dest, TEST_ONLY)) and not force:
        logger.info("%s: already holds %s", dest, ", ".join(langs))
        return languages_in(dest, TEST_ONLY)
    with atomic_output_dir(dest, force=True) as tmp:
        for lang in languages_in(dest, TEST_ONLY) if os.path.isdir(dest) else []:  # keep languages fetched before
            shutil.copytree(os.path.join(dest, lang), os.path.join(tmp, lang))
        if src is not None:
            for lang in langs:
                shutil.rmtree(os.path.join(tmp, lang), ignore_errors=True)
                shutil.copytree(os.path.join(src, lang), os.path.join(tmp, lang))
            compare_checksums(dataset, tmp, langs, src)
        else:
            archive = fetch(URLS[dataset], os.path.join(cache_dir, dataset), None,
                            hint="pass --from DIR with LANG/{train,dev,test}.tsv")
            if dataset == "wikiann":
                for lang in langs:
                    os.makedirs(os.path.join(tmp, lang), exist_ok=True)
                    unpack_panx(archive, lang, os.path.join(tmp, lang))
            else:
                unpack_ud(archive, langs, tmp)
            compare_checksums(dataset, tmp, langs, dest)
    return languages_in(dest, TEST_ONLY)
