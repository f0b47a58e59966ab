"""Hugging Face's steps around the BPE model, read from a tokenizer.json and done as
`tokenizers` does them: normalizers, pre-tokenizers of several steps, added tokens with
flags, and the special tokens a post-processor adds.

`read_steps` reads a file's normalizer, pre_tokenizer, added_tokens and post_processor,
refusing what is not reproduced exactly with an error naming the field. Where the steps are
only what bpe does anyway (added tokens found as written, one Split or GPT-2's ByteLevel,
no normalizer) `Steps.plain` says so and the Tokenizer encodes as any other; otherwise
`Pipeline.pretokenizer` stands in for patterns.Pretokenizer in the encode loops: it cuts
text into pieces and added tokens in Python, and the kernels merge the pieces.

How `tokenizers` (0.19 to 0.23) encodes a text (tokenizer/added_vocabulary.rs,
pre_tokenizers/, normalizers/, processors/), and so how the Pipeline does:
1. The added tokens with normalized=false are found in the raw text, leftmost and longest
   first (an Aho-Corasick automaton); the search goes on after each. A single_word token
   next to a word character (Unicode's \\w, Rust's) is passed over; lstrip takes the white
   space (Unicode's White_Space) before it, back to the previous token; rstrip takes the
   white space after it. The token's id stands for all it took.
2. Each stretch between them is normalized (NFC, NFD, NFKC, NFKD, in a Sequence's order),
   and the added tokens with normalized=true (their text normalized too) are found in it
   the same way.
3. Each stretch left goes through the pre-tokenizer's steps, each step on every piece the
   one before made: Split cuts at a regex's matches (behavior Isolated, Removed,
   MergedWithPrevious, MergedWithNext or Contiguous; invert flips what is a match);
   ByteLevel puts a space before a piece that has none (add_prefix_space), and cuts it
   with GPT-2's regex (use_regex). Empty pieces are dropped. ByteLevel must be the last
   step: after it the text is in GPT-2's byte alphabet, which a regex would see otherwise.
4. The model merges each piece (bpe's kernels; ignore_merges: Tokenizer.__init__).
5. With add_special_tokens, the post-processor's template adds its special tokens around
   the sequence (TemplateProcessing's single template, RobertaProcessing); ByteLevel's
   post-processor changes offsets only.

Split regexes run on the `regex` module, checked to mean what they mean to Oniguruma,
HF's engine (bpe.hf._read_pattern). The normalizers are Python's unicodedata, which is
newer than the tables `tokenizers` normalizes with (Unicode 9.0, in the crate
unicode-normalization-alignments): the characters Unicode 10.0 to 15.1 gave a
normalization (decomposition, combining class or composition) are unknown there, so left
as they are, and nothing composes or reorders across them; so here (_NORMALIZED_SINCE_9).
A Python whose unicodedata is newer than 15.1 (3.14) may normalize characters added since
where `tokenizers` leaves them. Added-token flags use Unicode's \\w and White_Space in the
`regex` module's tables, as the Split regexes do.
"""
from __future__ import annotations

import functools
import json
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Literal, NamedTuple

from bpe._pretokenize import PATTERN_IDS
from bpe._pretokenize import pieces as native_pieces
from bpe._utf8 import find_listed
from bpe.patterns import Sink
from bpe.specials import find_specials, longest_first

Form = Literal["NFC", "NFD", "NFKC", "NFKD"]
FORMS: tuple[Form, ...] = ("NFC", "NFD", "NFKC", "NFKD")
BEHAVIORS = ("Isolated", "Removed", "MergedWithPrevious", "MergedWithNext", "Contiguous")
_FLAGS = ("single_word", "lstrip", "rstrip", "normalized", "special")
# The characters Unicode 10.0 to 15.1 gave a normalization (a decomposition, a combining
# class, a part in a canonical decomposition), which `tokenizers`' tables (Unicode 9.0) do
# not know: unicodedata of Python 3.13 less that of Python 3.6. tests/test_hf.py finds those
# of the running Python's Unicode anew from `tokenizers` itself.
_NORMALIZED_SINCE_9 = (
    "\u07fd\u0898-\u089f\u08ca-\u08d3\u09fe\u0c3c\u0d3b-\u0d3c\u0eba\u1715\u1abf-\u1ace"
    "\u1df6-\u1dfa\u32ff\ua7f2-\ua7f4\ua82c\uab69\U00010781-\U00010785\U00010787-\U000107b0"
    "\U000107b2-\U000107ba\U00010d24-\U00010d27\U00010eab-\U00010eac\U00010efd-\U00010eff"
    "\U00010f46-\U00010f50\U00010f82-\U00010f85\U00011070\U0001133b\U0001145e"
    "\U00011839-\U0001183a\U00011930\U00011935\U00011938\U0001193d-\U0001193e\U00011943"
    "\U000119e0\U00011a34\U00011a47\U00011a99\U00011d42\U00011d44-\U00011d45\U00011d97"
    "\U00011f41-\U00011f42\U00016ff0-\U00016ff1\U0001e030-\U0001e06d\U0001e08f"
    "\U0001e130-\U0001e136\U0001e2ae\U0001e2ec-\U0001e2ef\U0001e4ec-\U0001e4ef\U0001f16c"
    "\U0001fbf0-\U0001fbf9"
)
# Rust's regex crate, which `tokenizers` finds the flags' word and space characters with:
# \w is Alphabetic, M, Nd, Pc and Join_Control; \s is White_Space.
_WORD = r"[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\u200C\u200D]"
_SPACE = r"\p{White_Space}"


class AddedToken(NamedTuple):
    """An added token of a tokenizer.json, with its id and flags."""

    content: str
    id: int
    single_word: bool = False
    lstrip: bool = False
    rstrip: bool = False
    normalized: bool = False
    special: bool = True


class Split(NamedTuple):
    """A Split step: `regex`'s compiled pattern, the behavior, invert, and the built-in
    pattern the regex is, if one (its native matcher cuts alike)."""

    regex: Any
    behavior: str
    invert: bool
    name: str | None = None


class ByteLevel(NamedTuple):
    """The ByteLevel step (its trim_offsets concerns offsets only)."""

    add_prefix_space: bool
    use_regex: bool


Step = Split | ByteLevel


class Template(NamedTuple):
    """The ids a post-processor puts before and after a single sequence."""

    before: tuple[int, ...]
    after: tuple[int, ...]


class Steps(NamedTuple):
    """A file's steps around the model (see read_steps)."""

    normalizers: tuple[Form, ...]
    steps: tuple[Step, ...]
    added: tuple[AddedToken, ...]
    template: Template | None
    # The Split regex of the plain shapes, as a pattern of bpe's (a built-in's name or a
    # compiled regex), or the first Split's; "gpt2" for ByteLevel's own regex.
    pattern: Any

    @property
    def plain(self) -> bool:
        """Whether the steps are what bpe does with `pattern` and the added tokens as
        special tokens: no normalizer; one Split, behavior Isolated, then ByteLevel without
        regex, or ByteLevel with it alone (no prefix space either way); and added tokens
        without lstrip, rstrip or single_word, all matched in one pass (normalized alike,
        as there is no normalizer)."""
        shapes = ((ByteLevel(False, True),), (self.steps[0], ByteLevel(False, False)))
        return (not self.normalizers and self.steps in shapes
                and all(isinstance(s, ByteLevel) or s.behavior == "Isolated"
                        for s in self.steps)
                and not any(t.single_word or t.lstrip or t.rstrip for t in self.added)
                and len({t.normalized for t in self.added}) <= 1)


def read_steps(data: dict, texts: dict[str, int], where: str,
               read_pattern) -> tuple[Steps, dict]:
    """(the steps of a tokenizer.json's data, their source: the JSON of its normalizer,
    pre_tokenizer, added_tokens and post_processor, which bpe.hf writes back). texts: the
    model's vocab (added tokens' ids are checked against it); read_pattern(regex text,
    field): a Split's regex as a pattern of bpe's, checked (bpe.hf._read_pattern)."""
    source = {key: data.get(key) for key in ("normalizer", "pre_tokenizer", "added_tokens",
                                             "post_processor")}
    normalizers = tuple(_normalizers(source["normalizer"], f"{where}: normalizer"))
    steps, pattern = _pre_tokenizer(source["pre_tokenizer"], where, read_pattern)
    added = _added_tokens(source["added_tokens"] or [], texts, where)
    template = _template(source["post_processor"], where)
    return Steps(normalizers, steps, added, template, pattern), source


def _type(node, field: str) -> str:
    kind = node.get("type") if isinstance(node, dict) else None
    if not isinstance(kind, str):
        raise ValueError(f"{field}: expected an object with a \"type\", got "
                         f"{json.dumps(node)[:200]}")
    return kind


def _normalizers(node, field: str) -> Iterator[Form]:
    if node is None:
        return
    kind = _type(node, field)
    if kind in FORMS:
        yield kind
    elif kind == "Sequence" and isinstance(node.get("normalizers"), list):
        for k, inner in enumerate(node["normalizers"]):
            yield from _normalizers(inner, f"{field}.normalizers[{k}]")
    else:
        raise ValueError(f"{field} is {kind!r}, which bpe does not apply as Hugging Face "
                         f"does; it applies {', '.join(FORMS)} and Sequences of them")


def _pre_tokenizer(node, where: str, read_pattern) -> tuple[tuple[Step, ...], Any]:
    field = f"{where}: pre_tokenizer"
    steps = tuple(_steps(node, field, read_pattern))
    levels = [k for k, step in enumerate(steps) if isinstance(step, ByteLevel)]
    if levels != [len(steps) - 1]:
        raise ValueError(f"{field}: expected ByteLevel once, as the last step (a byte-level "
                         f"BPE: before it the text is not yet bytes, after it a regex would "
                         f"see GPT-2's byte alphabet), got {json.dumps(node)[:300]}")
    steps = _deepseek_as_one(steps)
    splits = [step for step in steps if isinstance(step, Split)]
    return steps, (splits[0].name or splits[0].regex) if splits else "gpt2"


def _deepseek_as_one(steps: tuple[Step, ...]) -> tuple[Step, ...]:
    """steps with DeepSeek V3's three Splits in a row (DEEPSEEK_V3_SPLITS, each Isolated)
    as the one step of the built-in pattern they are: it cuts every piece as they do."""
    from bpe.patterns import DEEPSEEK_V3_SPLITS, PATTERNS

    n = len(DEEPSEEK_V3_SPLITS)
    for k in range(len(steps) - n + 1):
        run = steps[k:k + n]
        if all(isinstance(step, Split) and step.behavior == "Isolated" and not step.invert
               and step.name is None and step.regex.pattern == text
               for step, text in zip(run, DEEPSEEK_V3_SPLITS, strict=True)):
            import regex

            one = Split(regex.compile(PATTERNS["deepseek_v3"]), "Isolated", False, "deepseek_v3")
            return (*steps[:k], one, *_deepseek_as_one(steps[k + n:]))
    return steps


def _steps(node, field: str, read_pattern) -> Iterator[Step]:
    kind = _type(node, field)
    if kind == "Sequence" and isinstance(node.get("pretokenizers"), list):
        for k, inner in enumerate(node["pretokenizers"]):
            yield from _steps(inner, f"{field}.pretokenizers[{k}]", read_pattern)
    elif kind == "ByteLevel":
        # tokenizers refuses a ByteLevel without these two (use_regex defaults to true)
        for key in ("add_prefix_space", "trim_offsets"):
            if key not in node:
                raise ValueError(f"{field}: ByteLevel has no {key!r} (Hugging Face's "
                                 f"tokenizers requires it)")
        prefix, use_regex = node["add_prefix_space"], node.get("use_regex", True)
        if not (isinstance(prefix, bool) and isinstance(use_regex, bool)):
            raise ValueError(f"{field}: ByteLevel's add_prefix_space and use_regex must be "
                             f"true or false")
        yield ByteLevel(prefix, use_regex)
    elif kind == "Split":
        yield _split(node, field, read_pattern)
    else:
        raise ValueError(f"{field} is {kind!r}; bpe pre-tokenizes as Hugging Face does with "
                         f"Split, ByteLevel and Sequences of them")


def _split(node: dict, field: str, read_pattern) -> Split:
    import regex

    behavior, invert, pattern = node.get("behavior"), node.get("invert"), node.get("pattern")
    if behavior not in BEHAVIORS:
        raise ValueError(f"{field}: Split's behavior is {behavior!r}, expected one of "
                         f"{', '.join(BEHAVIORS)}")
    if not isinstance(invert, bool):
        raise ValueError(f"{field}: Split's invert is {invert!r}, expected true or false")
    if isinstance(pattern, dict) and isinstance(pattern.get("String"), str) and pattern["String"]:
        return Split(regex.compile(regex.escape(pattern["String"])), behavior, invert)
    if not (isinstance(pattern, dict) and isinstance(pattern.get("Regex"), str)):
        raise ValueError(f"{field}: Split's pattern is {json.dumps(pattern)[:200]}, expected "
                         f"{{\"Regex\": ...}} or {{\"String\": ...}} (not empty)")
    checked = read_pattern(pattern["Regex"], f"{field}.pattern")
    if isinstance(checked, str):            # a built-in: its regex, as `regex` spells it
        from bpe.patterns import PATTERNS

        return Split(regex.compile(PATTERNS[checked]), behavior, invert, checked)
    return Split(checked, behavior, invert)


def _added_tokens(added_tokens, texts: dict[str, int], where: str) -> tuple[AddedToken, ...]:
    """The added tokens with their flags, checked. HF does not read the ids written here:
    it takes a token's id from the model's vocab, or else the next id after the vocab and
    the added tokens so far. A file whose ids say otherwise would encode differently in HF,
    so it is refused."""
    if not isinstance(added_tokens, list):
        raise ValueError(f"{where}: expected added_tokens to be a list")
    tokens: list[AddedToken] = []
    seen: set[str] = set()
    for k, added in enumerate(added_tokens):
        added = added if isinstance(added, dict) else {}
        text, token_id = added.get("content"), added.get("id")
        if not isinstance(text, str) or not text or not _is_id(token_id):
            raise ValueError(f"{where}: added token {added!r} needs a non-empty content and "
                             f"an id >= 0")
        if text in seen:
            raise ValueError(f"{where}: added token {text!r} is listed twice")
        seen.add(text)
        flags = {flag: added.get(flag, flag == "normalized" and not added.get("special"))
                 for flag in _FLAGS}
        for flag, value in flags.items():
            if not isinstance(value, bool):
                raise ValueError(f"{where}: added_tokens[{k}] ({text!r}): {flag} is "
                                 f"{value!r}, expected true or false")
        hf_id = texts.get(text, max([len(texts), *(t.id + 1 for t in tokens)]))
        if token_id != hf_id:
            source = "its id in the model's vocab" if text in texts else "the next free id"
            raise ValueError(f"{where}: added token {text!r} has id {token_id}, but HF would "
                             f"give it {hf_id} ({source})")
        tokens.append(AddedToken(text, token_id, **flags))
    return tuple(tokens)


def _is_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _template(node, where: str) -> Template | None:
    """The ids the post-processor adds around a single sequence (None: none)."""
    field = f"{where}: post_processor"
    templates = [t for t in _processors(node, field) if t is not None]
    if len(templates) > 1:
        raise ValueError(f"{field}: more than one processor adds special tokens; bpe takes "
                         f"one template")
    return templates[0] if templates else None


def _processors(node, field: str) -> Iterator[Template | None]:
    if node is None:
        return
    kind = _type(node, field)
    if kind == "Sequence" and isinstance(node.get("processors"), list):
        for k, inner in enumerate(node["processors"]):
            yield from _processors(inner, f"{field}.processors[{k}]")
    elif kind == "ByteLevel":
        yield None                           # offsets only
    elif kind == "TemplateProcessing":
        yield _single_template(node, field)
    elif kind == "RobertaProcessing":
        cls, sep = node.get("cls"), node.get("sep")
        if not all(isinstance(t, list) and len(t) == 2 and _is_id(t[1]) for t in (cls, sep)):
            raise ValueError(f"{field}: RobertaProcessing's cls and sep must be [token, id]")
        yield Template((cls[1],), (sep[1],))
    else:
        raise ValueError(f"{field} is {kind!r}; bpe applies TemplateProcessing, "
                         f"RobertaProcessing, ByteLevel and Sequences of them")


def _single_template(node: dict, field: str) -> Template:
    """TemplateProcessing's single template: its special tokens' ids around sequence A."""
    specials, single = node.get("special_tokens"), node.get("single")
    if not isinstance(specials, dict) or not isinstance(single, list):
        raise ValueError(f"{field}: TemplateProcessing needs \"single\" (a list) and "
                         f"\"special_tokens\" (an object)")
    parts: list[list[int]] = [[]]
    for k, piece in enumerate(single):
        kind, body = next(iter(piece.items())) if isinstance(piece, dict) and piece else (
            None, None)
        name = body.get("id") if isinstance(body, dict) else None
        if kind == "Sequence" and name == "A":
            parts.append([])
        elif kind == "SpecialToken" and isinstance(name, str):
            ids = specials.get(name, {}).get("ids") if isinstance(specials.get(name),
                                                                  dict) else None
            if not (isinstance(ids, list) and all(_is_id(i) for i in ids)):
                raise ValueError(f"{field}: the template's special token {name!r} has no "
                                 f"\"ids\" in special_tokens")
            parts[-1].extend(ids)
        else:
            raise ValueError(f"{field}: single[{k}] is {json.dumps(piece)[:100]}; expected "
                             f"{{\"SpecialToken\": ...}} or {{\"Sequence\": {{\"id\": \"A\"}}}}")
    if len(parts) != 2:
        raise ValueError(f"{field}: the single template holds sequence A {len(parts) - 1} "
                         f"times, expected once")
    return Template(tuple(parts[0]), tuple(parts[1]))


# --- encoding ---------------------------------------------------------------------------

class _Matcher:
    """Added tokens to find in text, by the text they are found by."""

    def __init__(self, by_text: dict[str, AddedToken]):
        self.by_text = by_text
        self.by_length = longest_first(by_text)


class Pipeline:
    """A file's steps (not plain: see Steps.plain), for encoding."""

    def __init__(self, steps: Steps):
        self.normalizers = steps.normalizers
        # a ByteLevel that adds no space and cuts nothing leaves every piece as it is
        self.steps = [step for step in steps.steps
                      if not (isinstance(step, ByteLevel) and not step.add_prefix_space
                              and not step.use_regex)]
        self.native_id = _native_id(self.steps)
        self.added = steps.added
        normalized: dict[str, AddedToken] = {}
        for token in (t for t in self.added if t.normalized):
            text = self.normalize(token.content)
            if text in normalized:
                raise ValueError(f"added tokens {normalized[text].content!r} and "
                                 f"{token.content!r} are both {text!r} once normalized")
            normalized[text] = token
        self._normalized = normalized

    def pretokenizer(self, allowed: Sequence[str]) -> PipelinePretokenizer:
        """The pre-tokenizer finding only the allowed added tokens."""
        return PipelinePretokenizer(self, allowed)

    def normalize(self, text: str) -> str:
        """text through the normalizers, as `tokenizers` does (see _NORMALIZED_SINCE_9)."""
        for form in self.normalizers:
            text = normalize(form, text)
        return text

    def pieces(self, text: str) -> list[str]:
        """The pre-tokenizer's pieces of (normalized) text holding no added token."""
        pieces = [text] if text else []
        for step in self.steps:
            pieces = [p for piece in pieces for p in _cut(step, piece) if p]
        return pieces


class PipelinePretokenizer:
    """A Pipeline's cut of text into pieces and added tokens, in patterns.Pretokenizer's
    interface. No kernel cuts this text (native_id is None), and feed holds the whole text
    before it cuts: flags and normalizers see across any place a stream might be cut."""

    native_id = None

    def __init__(self, pipeline: Pipeline, allowed: Sequence[str]):
        self.pipeline = pipeline
        self.special_tokens = list(allowed)
        chosen = set(allowed)
        raw = {t.content: t for t in pipeline.added if t.content in chosen and not t.normalized}
        normalized = {text: token for text, token in pipeline._normalized.items()
                      if token.content in chosen}
        self._raw = _Matcher(raw) if raw else None
        self._normalized = _Matcher(normalized) if normalized else None
        # Where the steps are one built-in pattern and the allowed added tokens are found in
        # the raw text as written (no flags), a text the normalizers leave as it is gets the
        # pieces and added tokens a plain Pretokenizer of that pattern gives it: see plain_for.
        self._plain = None
        if (pipeline.native_id is not None and not normalized
                and not any(t.single_word or t.lstrip or t.rstrip for t in raw.values())):
            from bpe.patterns import Pretokenizer

            name = next(n for n, k in PATTERN_IDS.items() if k == pipeline.native_id)
            self._plain = Pretokenizer(name, self.special_tokens)

    def plain_for(self, text: str):
        """The plain patterns.Pretokenizer that cuts text as this one does, or None. One
        does where the steps allow (see __init__) and the normalizers leave text as it is:
        then they leave each stretch between added tokens as it is too (a substring of a
        normalized text is normalized: composing and reordering look only inside it), and
        the stretches are cut by the pattern alone, as the kernels cut them between special
        tokens. One C call per normalizer checks the whole text, so that the kernels can
        find the added tokens in it, without Python cutting it."""
        if self._plain is None or not all(unicodedata.is_normalized(form, text)
                                          for form in self.pipeline.normalizers):
            return None
        return self._plain

    def pieces(self, text: str) -> list[str]:
        return self.pipeline.pieces(self.pipeline.normalize(text))

    def feed(self, chunks: Iterable[str], sink: Sink, settle_chars: int = 0) -> Iterator[None]:
        parts = []
        for chunk in chunks:
            if not isinstance(chunk, str):
                raise TypeError(f"expected str chunks, got {type(chunk).__name__}")
            parts.append(chunk)
        self._send("".join(parts), sink)
        yield

    def _send(self, text: str, sink: Sink) -> None:
        pipeline = self.pipeline
        for stretch, token in _split_added(text, self._raw):
            if token is not None:
                sink.special(token.content)
                continue
            for part, inner in _split_added(pipeline.normalize(stretch), self._normalized):
                if inner is not None:
                    sink.special(inner.content)
                    continue
                if pipeline.native_id is not None:    # the kernels cut and encode it
                    sink.native(part, -1, pipeline.native_id)
                    continue
                pieces = pipeline.pieces(part)
                if pieces:
                    sink.pieces(pieces)


def _native_id(steps: Sequence[Step]) -> int | None:
    """The native pattern whose pieces are those of these steps, if one: a single cut by a
    built-in's regex (an Isolated Split: with invert too, as every stretch is its own
    piece either way), or a ByteLevel that cuts by GPT-2's and adds no space."""
    if len(steps) != 1:
        return None
    step = steps[0]
    if isinstance(step, ByteLevel):
        return PATTERN_IDS["gpt2"] if step.use_regex and not step.add_prefix_space else None
    return PATTERN_IDS[step.name] if step.behavior == "Isolated" and step.name else None


def _split_added(sentence: str, matcher: _Matcher | None
                 ) -> list[tuple[str, AddedToken | None]]:
    """AddedVocabulary::find_matches: sentence as stretches (None) and added tokens, each
    with the text it took."""
    if not sentence:
        return []
    if matcher is None:
        return [(sentence, None)]
    splits: list[tuple[str, AddedToken | None]] = []
    offset = 0
    for at, text in find_specials(sentence, matcher.by_length):
        token = matcher.by_text[text]
        start, stop = at, at + len(text)
        if token.single_word and ((start > 0 and _is_word(sentence[start - 1]))
                                  or (stop < len(sentence) and _is_word(sentence[stop]))):
            continue
        if token.lstrip:
            start = max(_spaces_before(sentence, start), offset)
        if token.rstrip:
            stop = _spaces_after(sentence, stop)
        if start > stop:
            raise ValueError(f"added token {token.content!r} at character {at} lies inside "
                             f"the white space the token before it took (rstrip); Hugging "
                             f"Face's tokenizers fails on this text too")
        if offset < start:
            splits.append((sentence[offset:start], None))
        splits.append((sentence[start:stop], token))
        offset = stop
    if offset != len(sentence):
        splits.append((sentence[offset:], None))
    # (an added token that took no text, inside the white space rstrip took before it, is
    # dropped with the empty stretches: PreTokenizedString::split keeps no empty split)
    return [(text, token) for text, token in splits if text]


@functools.cache
def _classes():
    import regex

    return (regex.compile(_WORD), regex.compile(rf"{_SPACE}*\Z"), regex.compile(rf"{_SPACE}*"),
            regex.compile(f"[{_NORMALIZED_SINCE_9}]"))


@functools.cache
def _unknown_bitmap() -> bytes:
    """_NORMALIZED_SINCE_9 as a bitmap of code points, for find_listed."""
    bits = bytearray(0x110000 // 8)
    spec, k = _NORMALIZED_SINCE_9, 0
    while k < len(spec):
        is_range = k + 2 < len(spec) and spec[k + 1] == "-"
        last = spec[k + 2] if is_range else spec[k]
        for c in range(ord(spec[k]), ord(last) + 1):
            bits[c >> 3] |= 1 << (c & 7)
        k += 3 if is_range else 1
    return bytes(bits).rstrip(b"\0")


def _is_word(char: str) -> bool:
    return _classes()[0].match(char) is not None


def _spaces_before(text: str, end: int) -> int:
    """Where the white space that ends text[:end] begins."""
    return _classes()[1].search(text, 0, end).start()


def _spaces_after(text: str, start: int) -> int:
    """Where the white space that begins text[start:] ends."""
    return _classes()[2].match(text, start).end()


def normalize(form: Form, text: str) -> str:
    """unicodedata.normalize(form, text) as `tokenizers` does it: the characters its
    tables do not know (_NORMALIZED_SINCE_9) left as they are, each a boundary nothing
    composes or reorders across (a starter that composes with nothing, as an unknown
    character is there)."""
    if text.isascii() or find_listed(text, _unknown_bitmap()) < 0:
        return unicodedata.normalize(form, text)
    unknown = _classes()[3]
    out, at = [], 0
    for match in unknown.finditer(text):
        out.append(unicodedata.normalize(form, text[at:match.start()]))
        out.append(match.group())
        at = match.end()
    out.append(unicodedata.normalize(form, text[at:]))
    return "".join(out)


def _cut(step: Step, piece: str) -> list[str]:
    """One pre-tokenizer step on one piece (empty pieces are dropped by the caller)."""
    if isinstance(step, ByteLevel):
        if step.add_prefix_space and not piece.startswith(" "):
            piece = " " + piece
        if step.use_regex:
            return native_pieces(piece, PATTERN_IDS["gpt2"])
        return [piece]
    if step.behavior == "Isolated" and step.name is not None:
        return native_pieces(piece, PATTERN_IDS[step.name])
    spans = _matches(step.regex, piece, step.invert)
    if step.behavior == "Isolated":
        return [piece[a:b] for (a, b), _ in spans]
    if step.behavior == "Removed":
        return [piece[a:b] for (a, b), match in spans if not match]
    merged: list[list[int]] = []
    previous = False
    ordered = spans if step.behavior != "MergedWithNext" else spans[::-1]
    for (a, b), match in ordered:
        # Contiguous: runs of matches (or of stretches) as one; Merged*: a match joins the
        # stretch before (after) it
        joins = match == previous if step.behavior == "Contiguous" else match and not previous
        if joins and merged:
            if step.behavior == "MergedWithNext":
                merged[-1][0] = a
            else:
                merged[-1][1] = b
        else:
            merged.append([a, b])
        previous = match
    if step.behavior == "MergedWithNext":
        merged.reverse()
    return [piece[a:b] for a, b in merged]


def _matches(compiled, text: str, invert: bool) -> list[tuple[tuple[int, int], bool]]:
    """Pattern::find_matches: the regex's matches and the stretches between them, in
    order, covering text, each with whether it is a match (flipped by invert)."""
    spans, end = [], 0
    for match in compiled.finditer(text):
        start, stop = match.span()
        if start != end:
            spans.append(((end, start), invert))
        spans.append(((start, stop), not invert))
        end = stop
    if end != len(text):
        spans.append(((end, len(text)), invert))
    return spans
