"""Plain text from a MediaWiki XML dump (``.xml``, ``.xml.bz2``, ``.xml.xz``).

What XLM's ``get-data-wiki.sh`` does with WikiExtractor: the articles (namespace
0, redirects skipped) of a ``pages-articles`` dump, their wiki markup stripped
by mwparserfromhell (templates, references, tables' markup, formatting), links
to files and categories dropped (their namespace names, localized ones too,
are read from the dump's ``<siteinfo>``), one paragraph a line.

The XML is read as a stream.  A dump cut short (the first N lines of a real
dump, as in ``../shared/data/wikipedia``) ends in the middle of an element: the
articles read up to there are kept and a warning says where the file ended.
"""
from __future__ import annotations

import bz2
import logging
import lzma
import xml.etree.ElementTree as ET
from typing import IO, Iterator, Set

logger = logging.getLogger(__name__)

DUMP_SUFFIXES = (".xml", ".xml.bz2", ".xml.xz")
# namespace keys whose links are not running text: Media (-2), File (6), Category (14)
DROPPED_LINK_NAMESPACES = {"-2", "6", "14"}
CANONICAL_DROPPED = {"media", "file", "image", "category"}


def is_dump(path: str) -> bool:
    return path.endswith(DUMP_SUFFIXES)


def open_dump(path: str) -> IO[bytes]:
    if path.endswith(".bz2"):
        return bz2.open(path, "rb")
    if path.endswith(".xz"):
        return lzma.open(path, "rb")
    return open(path, "rb")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def strip_markup(wikitext: str, dropped_prefixes: Set[str]) -> str:
    """Plain text of one article's wikitext."""
    import mwparserfromhell

    code = mwparserfromhell.parse(wikitext)
    for link in code.filter_wikilinks(recursive=False):
        title = str(link.title).strip().lstrip(":")
        if ":" in title and title.split(":", 1)[0].strip().lower() in dropped_prefixes:
            try:
                code.remove(link)
            except ValueError:  # already gone with an enclosing node
                pass
    return code.strip_code(normalize=True, collapse=True)


def paragraphs(text: str, min_chars: int) -> Iterator[str]:
    """The lines of ``text`` worth keeping: whitespace folded, no headings,
    list bullets or table remnants, at least ``min_chars`` characters."""
    for line in text.splitlines():
        line = " ".join(line.split()).lstrip("*#:;| ")
        if len(line) >= min_chars and not line.startswith(("=", "{", "!", "<")):
            yield line


def extract_dump(path: str, min_chars: int = 20) -> Iterator[str]:
    """Yield the paragraphs of every article in the dump ``path``."""
    dropped = set(CANONICAL_DROPPED)
    articles = 0
    with open_dump(path) as f:
        parser = ET.iterparse(f, events=("end",))
        try:
            for _, elem in parser:
                tag = _local(elem.tag)
                if tag == "namespace" and elem.get("key") in DROPPED_LINK_NAMESPACES and elem.text:
                    dropped.add(elem.text.strip().lower())
                elif tag == "page":
                    ns = next((c.text for c in elem if _local(c.tag) == "ns"), "0")
                    redirect = any(_local(c.tag) == "redirect" for c in elem)
                    text = next((t.text for t in elem.iter() if _local(t.tag) == "text"), None)
                    if ns == "0" and not redirect and text and not text.lstrip().lower().startswith("#redirect"):
                        articles += 1
                        yield from paragraphs(strip_markup(text, dropped), min_chars)
                    elem.clear()
        except ET.ParseError as e:
            line = e.position[0] if getattr(e, "position", None) else "?"
            logger.warning("%s: the XML ends early at line %s (%s): a truncated dump; "
                           "kept the %d articles before it", path, line, e, articles)
    logger.info("%s: %d articles", path, articles)
