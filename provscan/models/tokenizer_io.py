"""Read tokenizers into one shape: tokens by id, merges in order, special tokens, pre-tokenizer pattern.

Formats: Hugging Face `tokenizer.json` (BPE, WordPiece, Unigram; added tokens placed at their ids), SentencePiece
`.model` files (read with `sentencepiece`) and the vocabulary of GGUF files (`tokenizer.ggml.*`). GGUF metadata is
parsed here directly: the `gguf` package's reader parses every field eagerly and takes ~8 s for a 6 MB vocab file,
where reading the few keys we need takes a fraction of a second. Token strings are compared as stored: byte-level
BPEs use GPT-2's byte-to-unicode alphabet in both tokenizer.json and GGUF, SentencePiece uses U+2581 in both.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

from provscan.models.errors import ModelFileError, read_json

MAX_TOKENIZER_BYTES = 512 * 1024 * 1024
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "spiece.model", "sentencepiece.bpe.model")


@dataclass
class TokenizerData:
    path: str
    format: str  # "tokenizer.json" | "sentencepiece" | "gguf"
    model: str  # "bpe" | "wordpiece" | "unigram" | ...
    tokens: list[str]  # index = id ("" for ids the file leaves unassigned)
    merges: list[str] = field(default_factory=list)  # "left right", in merge order
    special: list[str] = field(default_factory=list)
    pre_tokenizer: str = ""  # the split pattern (regex) or pre-tokenizer name

    def to_dict(self) -> dict:
        return {"path": self.path, "format": self.format, "model": self.model, "tokens": self.tokens,
                "merges": self.merges, "special": self.special, "pre_tokenizer": self.pre_tokenizer}

    @classmethod
    def from_dict(cls, data: dict) -> TokenizerData:
        return cls(**data)

    def summary(self) -> dict:
        return {"path": self.path, "format": self.format, "model": self.model, "vocab_size": len(self.tokens),
                "merges": len(self.merges), "special_tokens": len(self.special),
                "pre_tokenizer": self.pre_tokenizer[:200]}


def read_tokenizer(path: Path, label: str) -> TokenizerData:
    try:
        size = path.stat().st_size
    except OSError as error:
        raise ModelFileError(label, f"cannot be read: {error.strerror or error}") from None
    if size > MAX_TOKENIZER_BYTES:
        raise ModelFileError(label, f"tokenizer file of {size} bytes exceeds the {MAX_TOKENIZER_BYTES}-byte limit")
    if path.suffix == ".gguf":
        return read_gguf_vocab(path, label)
    if path.suffix == ".model":
        return read_sentencepiece(path, label)
    return read_tokenizer_json(path, label)


def _split_pattern(node) -> str:
    """The regex (or name) of a tokenizer.json pre-tokenizer, searched through Sequence nodes."""
    if isinstance(node, dict):
        pattern = node.get("pattern")
        if isinstance(pattern, dict):
            return str(pattern.get("Regex") or pattern.get("String") or "")
        for child in node.get("pretokenizers") or []:
            found = _split_pattern(child)
            if found:
                return found
        return str(node.get("type", ""))
    return ""


def read_tokenizer_json(path: Path, label: str) -> TokenizerData:
    data = read_json(path, label, MAX_TOKENIZER_BYTES, "tokenizer file")
    model = data.get("model") if isinstance(data, dict) else None
    if not isinstance(model, dict) or "vocab" not in model:
        raise ModelFileError(label, "tokenizer.json has no model.vocab")
    kind = str(model.get("type") or ("unigram" if isinstance(model["vocab"], list) else "bpe")).lower()
    vocab = model["vocab"]
    pairs: list[tuple[int, str]] = []
    if isinstance(vocab, dict):
        pairs = [(int(i), str(t)) for t, i in vocab.items() if isinstance(i, int)]
    elif isinstance(vocab, list):
        pairs = [(i, str(entry[0] if isinstance(entry, list) else entry)) for i, entry in enumerate(vocab)]
    else:
        raise ModelFileError(label, "tokenizer.json model.vocab is neither an object nor a list")
    special = []
    for added in data.get("added_tokens") or []:
        if isinstance(added, dict) and isinstance(added.get("id"), int) and "content" in added:
            pairs.append((added["id"], str(added["content"])))
            if added.get("special"):
                special.append(str(added["content"]))
    merges = [m if isinstance(m, str) else " ".join(map(str, m)) for m in model.get("merges") or []]
    return TokenizerData(label, "tokenizer.json", kind, _by_id(pairs, label), merges, special,
                         _split_pattern(data.get("pre_tokenizer")))


def _by_id(pairs: list[tuple[int, str]], label: str) -> list[str]:
    if not pairs:
        return []
    top = max(i for i, _ in pairs)
    if top > 10 * len(pairs) + 1000 or min(i for i, _ in pairs) < 0:
        raise ModelFileError(label, f"token ids are implausible (largest {top} for {len(pairs)} tokens)")
    tokens = [""] * (top + 1)
    for i, token in pairs:
        tokens[i] = token
    return tokens


def read_sentencepiece(path: Path, label: str) -> TokenizerData:
    import sentencepiece

    processor = sentencepiece.SentencePieceProcessor()
    try:
        processor.LoadFromSerializedProto(path.read_bytes())
    except (OSError, RuntimeError) as error:
        raise ModelFileError(label, f"not a SentencePiece model ({str(error).splitlines()[0][:200]})") from None
    tokens = [processor.IdToPiece(i) for i in range(processor.GetPieceSize())]
    special = [tokens[i] for i in range(len(tokens)) if processor.IsControl(i) or processor.IsUnknown(i)]
    kind = {1: "unigram", 2: "bpe", 3: "word", 4: "char"}.get(_sentencepiece_model_type(path.read_bytes()), "unigram")
    return TokenizerData(label, "sentencepiece", kind, tokens, [], special, "sentencepiece")


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def _sentencepiece_model_type(data: bytes) -> int:
    """TrainerSpec.model_type (ModelProto field 2, TrainerSpec field 3) read from the protobuf wire format directly:
    sentencepiece's generated message classes need the protobuf package, which nothing else here needs."""
    try:
        pos = 0
        while pos < len(data):
            key, pos = _varint(data, pos)
            field_number, wire = key >> 3, key & 7
            if wire == 0:
                _, pos = _varint(data, pos)
            elif wire == 2:
                length, pos = _varint(data, pos)
                if field_number == 2:  # trainer_spec
                    spec, end = pos, pos + length
                    while spec < end:
                        inner, spec = _varint(data, spec)
                        if inner >> 3 == 3 and inner & 7 == 0:
                            return _varint(data, spec)[0]
                        spec = _skip(data, spec, inner & 7)
                    return 1
                pos += length
            else:
                pos = _skip(data, pos, wire)
    except (IndexError, ValueError):
        pass
    return 1  # protobuf default: unigram


def _skip(data: bytes, pos: int, wire: int) -> int:
    if wire == 0:
        return _varint(data, pos)[1]
    if wire == 1:
        return pos + 8
    if wire == 2:
        length, pos = _varint(data, pos)
        return pos + length
    if wire == 5:
        return pos + 4
    raise ValueError(f"unsupported protobuf wire type {wire}")


# --- GGUF -------------------------------------------------------------------------------------------------------
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_WANTED = {"tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens", "tokenizer.ggml.merges",
           "tokenizer.ggml.token_type"}


class _Reader:
    def __init__(self, data, label: str) -> None:
        self.data = data
        self.pos = 0
        self.label = label

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ModelFileError(self.label, f"GGUF metadata runs past the end of the file (at byte {self.pos})")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def scalar(self, fmt: str):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        return self.take(self.scalar("<Q")).decode("utf-8", errors="replace")

    def value(self, kind: int, keep: bool):
        if kind == 8:
            return self.string() if keep else self.take(self.scalar("<Q"))
        if kind == 9:
            item_kind = self.scalar("<I")
            count = self.scalar("<Q")
            if count > len(self.data):
                raise ModelFileError(self.label, f"GGUF array claims {count} items, more than the file can hold")
            if item_kind in _SCALARS and not keep:
                self.take(struct.calcsize(_SCALARS[item_kind]) * count)
                return None
            return [self.value(item_kind, keep) for _ in range(count)]
        if kind in _SCALARS:
            return self.scalar(_SCALARS[kind])
        raise ModelFileError(self.label, f"unknown GGUF value type {kind} at byte {self.pos}")


def read_gguf_metadata(path: Path, label: str, wanted: set[str] = _WANTED) -> dict:
    """The wanted key/value pairs of a GGUF file's metadata (version 2 or 3, little-endian)."""
    import mmap

    with path.open("rb") as handle:
        try:
            mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:
            raise ModelFileError(label, "empty file, not GGUF") from None
    try:
        reader = _Reader(mapped, label)
        if reader.take(4) != b"GGUF":
            raise ModelFileError(label, "not a GGUF file (bad magic)")
        version = reader.scalar("<I")
        if version not in (2, 3):
            raise ModelFileError(label, f"unsupported GGUF version {version}")
        reader.scalar("<Q")  # tensor count
        kv_count = reader.scalar("<Q")
        found = {}
        for _ in range(kv_count):
            key = reader.string()
            kind = reader.scalar("<I")
            value = reader.value(kind, key in wanted)
            if key in wanted:
                found[key] = value
        return found
    finally:
        mapped.close()


def _wordpiece(token: str) -> str:
    """Undo llama.cpp's conversion of WordPiece vocabularies (word starts get U+2581, '##' continuations lose it),
    so that a GGUF BERT vocabulary compares with the tokenizer.json it came from."""
    if token.startswith("[") and token.endswith("]"):
        return token
    return token[1:] if token.startswith("\u2581") else "##" + token


def read_gguf_vocab(path: Path, label: str) -> TokenizerData:
    meta = read_gguf_metadata(path, label)
    tokens = meta.get("tokenizer.ggml.tokens")
    if not tokens:
        raise ModelFileError(label, "GGUF file carries no tokenizer.ggml.tokens")
    if meta.get("tokenizer.ggml.model") == "bert":
        tokens = [_wordpiece(token) for token in tokens]
    types = meta.get("tokenizer.ggml.token_type") or []
    special = [tokens[i] for i, t in enumerate(types) if t in (3, 4) and i < len(tokens)]  # control, user-defined
    kind = {"gpt2": "bpe", "llama": "sentencepiece-bpe", "bert": "wordpiece", "t5": "unigram"}.get(
        str(meta.get("tokenizer.ggml.model", "")), str(meta.get("tokenizer.ggml.model", "")))
    return TokenizerData(label, "gguf", kind, list(tokens), list(meta.get("tokenizer.ggml.merges") or []), special,
                         str(meta.get("tokenizer.ggml.pre", "")))
