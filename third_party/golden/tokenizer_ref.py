#!/usr/bin/python3
"""Train small SentencePiece BPE models and write golden encodings for the Go
tokenizer in prsmed/tokenizer.

Run with Debian's python3-sentencepiece (0.1.97):

    /usr/bin/python3 third_party/golden/tokenizer_ref.py [outdir]
    /usr/bin/python3 third_party/golden/tokenizer_ref.py --golden MODEL OUT [N [SEED]]
    /usr/bin/python3 third_party/golden/tokenizer_ref.py --bench MODEL GOLDEN

outdir defaults to testdata/tokenizer next to the repository root. Everything is
seeded: two runs write byte-identical files. The script writes, for each model
NAME, NAME.model and NAME.golden.json:

  test        LLaMA/Mistral settings (BPE, byte fallback, identity normalizer,
              dummy prefix, split digits, whitespace-only pieces), vocab 1500,
              trained on generated medical question/answer text with digits,
              accents, CJK and emoji. Golden: >= 2000 strings.
  template    the same settings, vocab 400, trained on PRS-Med template text
              only ("<image>\\n### User: ... \\n### Assistant: \\n..."): a tiny
              vocabulary for quick starts.
  rules       a custom normalization rule table (precompiled charsmap), a
              denormalization table, remove_extra_whitespaces, user-defined
              and control symbols, no byte fallback, stored self-test samples.
  suffix      treat_whitespace_as_suffix with byte fallback.
  noprefix    add_dummy_prefix=false, no byte fallback, user-defined symbols.
  unused      the template model with a fifth of its multi-character pieces
              re-typed UNUSED (hand-edited protobuf), to exercise the split of
              unused merges.

A golden file is one JSON object:

  model, sentencepiece, seed, vocab_size, bos, eos, unk, pad
  pieces        [[piece, score, kind], ...] by id; kind is "unknown", "control",
                "unused", "byte" or "normal" (normal or user-defined: the Python
                API does not tell those apart)
  cases         [{"text", "ids", "decoded"?, "pieces"?}]: sp.encode(text) and
                sp.decode(ids); "decoded" only when it differs from text;
                "pieces" (sp.encode(text, out_type=str)) for the small models
  byte_cases    [{"hex", "ids", "decoded"}]: encodings of byte strings that
                include malformed UTF-8
  decode_cases  [{"ids", "text"}]: sp.decode of random id sequences

--golden writes OUT, a golden file in the format above for any existing model
(for example the real Mistral tokenizer.model) over N generated strings
(default 3000, seed SEED); the Go test TestExternalGolden checks it when
TOKENIZER_GOLDEN=MODEL:OUT is set.

--bench times sp.encode over the strings of the golden file GOLDEN, one call
per string and once over all of them joined by spaces (the inputs of the Go
benchmarks BenchmarkEncode and BenchmarkEncodeLong), and prints the times.
"""

import io
import json
import os
import random
import sys
import tempfile
import time

import sentencepiece as spm

SEED = 20240617

# LLaMA / Mistral tokenizer settings (trainer_spec and normalizer_spec of their
# tokenizer.model), scaled down.
LLAMA = dict(
    model_type="bpe",
    byte_fallback=True,
    split_digits=True,
    add_dummy_prefix=True,
    normalization_rule_name="identity",
    remove_extra_whitespaces=False,
    allow_whitespace_only_pieces=True,
    split_by_unicode_script=True,
    split_by_whitespace=True,
    split_by_number=True,
    max_sentencepiece_length=16,
    unk_id=0,
    bos_id=1,
    eos_id=2,
    pad_id=-1,
    character_coverage=0.9995,
)

# Training must be reproducible: one thread, no shuffling, no sampling.
DETERMINISTIC = dict(num_threads=1, shuffle_input_sentence=False, input_sentence_size=0,
                     minloglevel=2)

# ---------------------------------------------------------------------------
# Text generators


MODALITIES = [
    "brain MRI", "brain CT scan", "head CT", "chest X-ray", "lung CT", "lung X-ray",
    "breast ultrasound", "breast CT scan", "colonoscopy image", "endoscopy frame",
    "polyp endoscopy image", "dermoscopy photo", "skin photograph", "dental X-ray",
    "abdominal CT", "knee MRI", "spine MRI", "liver ultrasound", "cardiac MRI",
    "PET-CT", "T1-weighted MRI", "T2-weighted FLAIR image", "mammogram",
]
TARGETS = [
    "tumour", "tumor", "lesion", "polyp", "nodule", "mass", "abnormality", "opacity",
    "cyst", "growth", "haemorrhage", "infiltrate", "melanoma", "glioma", "carcinoma",
]
ZONES = ["top left", "top right", "bottom left", "bottom right", "center"]
NEAR = ["near the center", "close to the center", "near the center of the image"]
FAR = ["away from the center", "far from the center", "not near the center"]
QUESTIONS = [
    "Where is the {t} in this {m}?",
    "Where is the {t} located in the {m}?",
    "Can you locate the {t} in this {m}?",
    "Which region of the {m} contains the {t}?",
    "Which part of the image shows the {t}?",
    "Is there a {t} in this {m}? If so, where is it?",
    "Describe the position of the {t} in the {m}.",
    "In which quadrant of the {m} does the {t} appear?",
    "Please identify the location of the {t}.",
    "Could you point out where the {t} is on this {m}?",
    "What is the position of the abnormal region in this {m}?",
    "Segment the {t} and tell me where it lies.",
]
ANSWERS = [
    "The {t} is visible in position {z} and {p}.",
    "The {t} is located in the {z} region, {p}.",
    "The {t} is situated in the {z} region of the image, {p}.",
    "There is a {t} in the {z} of the {m}.",
    "The {t} appears at the {z}, {p}.",
    "A {t} can be seen in the {z} area.",
    "The abnormal region lies in the {z} part of the {m} and is {p}.",
    "The {t} occupies the {z} quadrant.",
    "Yes, the {t} is in the {z}.",
]
SENTENCES = [
    "Patient {n} (age {age}) underwent a {m} on {date}; the {t} measured {a}.{b} cm.",
    "Follow-up {m} at {hh}:{mm} showed the {t} had grown by {pct}%.",
    "Case #{n}: {t}, {a}.{b} x {c}.{b} mm, slice {s}/{ss}.",
    "Dose: {a}{b}0 mg every {c} hours, {n2} tablets in total.",
    "The report ID is {n}-{n2}-{s}, reviewed in {year}.",
    "Resolution {px}x{px}, spacing 0.{b}{c} mm, {s} slices.",
    "Score = {a}.{b}{c}, IoU {pct}%, Dice 0.{b}{a}.",
]
FOREIGN = [
    "La tumeur est située en haut à gauche, près du centre.",
    "La lésion se trouve en bas à droite de l'image.",
    "Der Tumor befindet sich oben rechts in der Lunge.",
    "Die Röntgenaufnahme zeigt einen Knoten unten links.",
    "Größe der Läsion: {a},{b} cm. Überweisung an die Radiologie.",
    "La lesión está en la parte inferior derecha, cerca del centro.",
    "El pólipo aparece en el centro de la imagen.",
    "A lesão está no canto superior esquerdo.",
    "脑部肿瘤位于左上方。",
    "肺部结节在图像的右下角。",
    "脑 MRI 显示肿瘤靠近中心。",
    "脳腫瘍は画像の中央にあります。",
    "Опухоль расположена в верхнем левом углу.",
    "Ο όγκος βρίσκεται κάτω δεξιά.",
    "Tümör sol üst bölgede görülüyor.",
    "Naïve café résumé: coördinate the señor's façade.",
]
EMOJI = ["🧠", "🫁", "🩻", "🩺", "✅", "❌", "⚠️", "💊", "🔬", "👍", "😀", "🙂"]
WORDS = [
    "the", "image", "scan", "shows", "region", "patient", "radiologist", "contrast",
    "enhancing", "margin", "boundary", "segmentation", "mask", "left", "right", "upper",
    "lower", "anterior", "posterior", "lateral", "medial", "slice", "axial", "sagittal",
    "coronal", "benign", "malignant", "suspicious", "normal", "finding", "impression",
    "diagnosis", "tissue", "density", "signal", "intensity", "oedema", "edema", "vessel",
]


def fill(rng, template):
    """Substitutes the placeholders of a template with random values."""
    near = rng.random() < 0.5
    return template.format(
        t=rng.choice(TARGETS), m=rng.choice(MODALITIES), z=rng.choice(ZONES),
        p=rng.choice(NEAR if near else FAR), n=rng.randint(1, 99999),
        n2=rng.randint(1, 999), age=rng.randint(1, 99), a=rng.randint(0, 9),
        b=rng.randint(0, 9), c=rng.randint(1, 9), s=rng.randint(1, 300),
        ss=rng.randint(300, 600), pct=rng.randint(0, 100), hh="%02d" % rng.randint(0, 23),
        mm="%02d" % rng.randint(0, 59), year=rng.randint(1990, 2030),
        date="%04d-%02d-%02d" % (rng.randint(2000, 2030), rng.randint(1, 12), rng.randint(1, 28)),
        px=rng.choice([224, 256, 336, 512, 1024]),
    )


def question(rng):
    q = fill(rng, rng.choice(QUESTIONS))
    return q[0].lower() + q[1:] if rng.random() < 0.1 else q


def answer(rng):
    return fill(rng, rng.choice(ANSWERS))


def free_sentence(rng):
    words = [rng.choice(WORDS) for _ in range(rng.randint(3, 12))]
    s = " ".join(words)
    return s[0].upper() + s[1:] + rng.choice([".", ".", ",", ";", "!", "?", ":"])


def medical_line(rng):
    """One line of training text for the main model."""
    r = rng.random()
    if r < 0.25:
        s = question(rng)
    elif r < 0.5:
        s = answer(rng)
    elif r < 0.6:
        s = question(rng) + " " + answer(rng)
    elif r < 0.72:
        s = fill(rng, rng.choice(SENTENCES))
    elif r < 0.82:
        s = fill(rng, rng.choice(FOREIGN))
    else:
        s = free_sentence(rng)
    if rng.random() < 0.06:
        s = s + " " + rng.choice(EMOJI)
    if rng.random() < 0.04:
        s = rng.choice(EMOJI) + " " + s
    if rng.random() < 0.05:  # indentation and runs of spaces, as in code and tables
        s = " " * rng.choice([2, 4, 8]) + s
    if rng.random() < 0.05:
        s = s.replace(" ", "  ", 1)
    if rng.random() < 0.02:
        s = s.replace(" ", "\t", 1)
    return s


def template_line(rng):
    """One line of PRS-Med template text (the training prompt, no newlines:
    sentencepiece trains on lines)."""
    r = rng.random()
    if r < 0.4:
        return "<image> ### User: %s ### Assistant: %s" % (question(rng), answer(rng))
    if r < 0.7:
        return question(rng)
    return answer(rng)


def soup(rng, length):
    """Random text over an alphabet that mixes in-vocabulary and unknown
    characters, whitespace of every kind and special-looking strings."""
    parts = []
    alphabets = [
        (30, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"),
        (10, "0123456789"),
        (8, ".,;:!?'\"()[]{}<>-_/\\|@#$%^&*+=~`"),
        (14, "    \t\n"),
        (6, "éèàüöäßçñøåÉÜ"),
        (4, "脑肺部肿瘤位于左上方中心图像"),
        (3, "龍鳳麒麟鬱薔薇"),  # not in any training text
        (3, "🧠🫁🩻✅😀🙂🦴🫀"),
        (2, "▁\uFFFD\u00a0\u3000\u2028\r\x00\x7f\u200b\u200d"),
        (2, "αβγδΩЖщ\u05d0\u0627\u0915\u0301\u0308"),
        (1, "𝔘𝕏𐍈\U0010FFFF\uE000"),
    ]
    weights = [w for w, _ in alphabets]
    while sum(len(p) for p in parts) < length:
        if rng.random() < 0.08:
            parts.append(rng.choice([
                "<s>", "</s>", "<unk>", "<pad>", "<0x41>", "<0x0A>", "[INST]", "[/INST]",
                "<image>", "### User:", "### Assistant:", "▁▁", " ⁇ ", "\u200d",
            ]))
        elif rng.random() < 0.15:
            parts.append(rng.choice(WORDS + TARGETS + ZONES))
        else:
            _, chars = rng.choices(alphabets, weights)[0]
            parts.append(rng.choice(chars))
    return "".join(parts)


def whitespace_variant(rng):
    core = rng.choice([
        "", "x", "brain", "top left", "The tumor is in the center.", "a b", "脑",
        "🧠", "MRI 2024", "é",
    ])
    ws = lambda: "".join(rng.choice("    \t\n") for _ in range(rng.randint(0, 5)))
    s = ws() + core + ws()
    if " " in core and rng.random() < 0.5:
        s = s.replace(" ", ws() or "  ")
    return s


def digit_string(rng):
    r = rng.random()
    if r < 0.2:
        return str(rng.randint(0, 10 ** rng.randint(1, 15)))
    if r < 0.35:
        return "%d.%d" % (rng.randint(0, 999), rng.randint(0, 99999))
    if r < 0.5:
        return "%04d-%02d-%02d %02d:%02d" % (
            rng.randint(1900, 2100), rng.randint(1, 12), rng.randint(1, 31),
            rng.randint(0, 23), rng.randint(0, 59))
    if r < 0.6:
        return "{:,}".format(rng.randint(1000, 10 ** 9))
    if r < 0.7:
        return rng.choice(["١٢٣", "１２３", "²³", "½ ¼", "Ⅳ", "٣.١٤", "0x1F", "1e-5", "-42", "+7"])
    if r < 0.85:
        return " ".join(str(rng.randint(0, 999)) for _ in range(rng.randint(1, 6)))
    return "size %d x %d px" % (rng.randint(1, 4096), rng.randint(1, 4096))


def llava_prompt(rng):
    q = question(rng)
    a = answer(rng)
    return rng.choice([
        "[INST] <image>\n%s [/INST]" % q,
        "[INST] ",
        "\n%s [/INST]" % q,
        "<image>\n### User: %s \n### Assistant: \n%s</s>" % (q, a),
        "\n### User: %s \n### Assistant: \n" % q,
        "%s</s>" % a,
        " %s </s>" % a,
        "<image> \n%s" % q,
    ])


FIXED = [
    "", " ", "  ", "   ", "\t", "\n", "\n\n", " \n ", "\r\n", "x", " x", "x ", " x ",
    "  x  ", "hello", "Hello world", "hello  world", "hello\tworld", "hello\nworld",
    "<s>", "</s>", "<unk>", "<pad>", "<s> hello </s>", "<0x41>", "<0x0A>", "▁", "▁▁",
    "▁hello", " ▁ ", "⁇", " ⁇ ", "\uFFFD", "\x00", "a\x00b", "\x7f", "\u200b",
    "Where is the tumour in this brain MRI?", "The tumor is in the top left.",
    "bottom right", "center", "Top Left", "TOP LEFT", "CENTER", "centre",
    "é", "ü", "脑", "🧠", "👍🏽", "👨‍⚕️", "🇫🇷", "e\u0301", "ﬁ", "Ⅳ", "½",
    "𝔘", "\U0010FFFF", "\uE000", "龍", "龍鳳", "a龍b鳳c",
    "0", "1", "12", "123", "2024", " 2024", "3.14159", "1,000,000", "１２３",
    "[INST] <image>\nWhere is the tumour in this brain MRI? [/INST]",
    "<image>\n### User: Where is the lesion? \n### Assistant: \nThe lesion is in the center.</s>",
    "aaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaaa", "abababababab", "        ", "\t\t\t\t",
    "\n\n\n\n\n\n", " \t \t \n", "the the the the", "thethethe",
]


def golden_strings(rng, n_main, n_long=5):
    """The strings to encode: fixed edge cases, a seeded mix, then n_long long
    inputs."""
    out = list(FIXED)
    gens = [
        (30, lambda: medical_line(rng)),
        (12, lambda: llava_prompt(rng)),
        (20, lambda: soup(rng, rng.randint(1, 40))),
        (12, lambda: whitespace_variant(rng)),
        (10, lambda: digit_string(rng)),
        (8, lambda: fill(rng, rng.choice(FOREIGN))),
        (4, lambda: "".join(rng.choice(EMOJI) for _ in range(rng.randint(1, 4)))),
        (4, lambda: rng.choice("abc ") * rng.randint(1, 30)),
    ]
    weights = [w for w, _ in gens]
    while len(out) < n_main:
        out.append(rng.choices(gens, weights)[0][1]())
    # A few long inputs exercise the merge queue.
    for _ in range(n_long):
        out.append(" ".join(medical_line(rng) for _ in range(rng.randint(10, 25))))
    if n_long:
        out.append(soup(rng, 300 * n_long))
    return out


def byte_strings(rng, n):
    """Byte strings with malformed UTF-8 (stray continuation bytes, truncated
    sequences, overlong forms, surrogates, out-of-range code points)."""
    bad = [b"\x80", b"\xbf", b"\xc0\xaf", b"\xc3", b"\xe2\x96", b"\xed\xa0\x80",
           b"\xf4\x90\x80\x80", b"\xf8\x88\x80\x80\x80", b"\xff", b"\xfe", b"\xe0\x80\x80",
           b"\xf0\x9f\xa7"]
    good = [b"a", b" ", b"\xe2\x96\x81", "é".encode(), "脑".encode(), "🧠".encode(),
            b"tumor", b"\n", b"1"]
    out = [b"".join(bad[i:i + 1]) for i in range(len(bad))]
    while len(out) < n:
        k = rng.randint(1, 8)
        out.append(b"".join(rng.choice(bad if rng.random() < 0.4 else good) for _ in range(k)))
    return out


# ---------------------------------------------------------------------------
# Training and model editing


def train(lines, **kwargs):
    """Trains a model on lines and returns the serialized ModelProto."""
    writer = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=writer,
                                   **DETERMINISTIC, **kwargs)
    return writer.getvalue()


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def read_varint(b, i):
    v = shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return v, i


def fields(b):
    """Splits a serialized message into (number, wire type, raw field bytes,
    payload) tuples; enough protobuf for ModelProto."""
    i, out = 0, []
    while i < len(b):
        start = i
        key, i = read_varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            val, i = read_varint(b, i)
        elif wt == 1:
            val, i = b[i:i + 8], i + 8
        elif wt == 5:
            val, i = b[i:i + 4], i + 4
        elif wt == 2:
            n, i = read_varint(b, i)
            val, i = b[i:i + n], i + n
        else:
            raise ValueError("wire type %d" % wt)
        out.append((num, wt, b[start:i], val))
    return out


def mark_unused(model, rng, fraction):
    """Returns model with a fraction of its multi-character NORMAL pieces
    re-typed UNUSED (ModelProto.SentencePiece.type = 5)."""
    out = bytearray()
    for num, wt, raw, val in fields(model):
        if num == 1:
            sub = fields(val)
            piece = [v for n, _, _, v in sub if n == 1][0].decode()
            typ = [v for n, _, _, v in sub if n == 3]
            normal = not typ or typ[0] == 1
            if normal and len(piece.replace("\u2581", "x")) >= 2 and rng.random() < fraction:
                body = b"".join(r for n, _, r, _ in sub if n != 3) + varint(3 << 3) + varint(5)
                raw = varint(1 << 3 | 2) + varint(len(body)) + body
        out += raw
    return bytes(out)


# ---------------------------------------------------------------------------
# Golden files


def kind(sp, i):
    for name, test in (("unknown", sp.is_unknown), ("control", sp.is_control),
                       ("unused", sp.is_unused), ("byte", sp.is_byte)):
        if test(i):
            return name
    return "normal"


def golden(name, model, strings, rng, with_pieces, n_bytes, n_decode):
    sp = spm.SentencePieceProcessor(model_proto=model)
    n = sp.get_piece_size()
    head = {
        "model": name + ".model",
        "sentencepiece": spm.__version__,
        "seed": SEED,
        "vocab_size": n,
        "bos": sp.bos_id(),
        "eos": sp.eos_id(),
        "unk": sp.unk_id(),
        "pad": sp.pad_id(),
    }
    pieces = [[sp.id_to_piece(i), sp.get_score(i), kind(sp, i)] for i in range(n)]
    cases = []
    for s in strings:
        ids = sp.encode(s)
        c = {"text": s, "ids": ids}
        d = sp.decode(ids)
        if d != s:
            c["decoded"] = d
        if with_pieces:
            c["pieces"] = sp.encode(s, out_type=str)
        cases.append(c)
    byte_cases = []
    for b in byte_strings(rng, n_bytes):
        ids = sp.encode(b)
        byte_cases.append({"hex": b.hex(), "ids": ids, "decoded": sp.decode(ids)})
    decode_cases = []
    special = [i for i in range(n) if kind(sp, i) in ("unknown", "control")]
    bytes_ = [i for i in range(n) if sp.is_byte(i)]
    spacey = [i for i in range(n) if sp.id_to_piece(i).startswith("\u2581")]
    for k in range(n_decode):
        ids = []
        for _ in range(rng.randint(0, 12)):
            pool = rng.choices([range(n), special, bytes_, spacey], [4, 1, 2, 2])[0]
            if pool:
                ids.append(rng.choice(pool))
        decode_cases.append({"ids": ids, "text": sp.decode(ids)})
    return head, pieces, cases, byte_cases, decode_cases


def dump(path, head, pieces, cases, byte_cases, decode_cases):
    """Writes one JSON object with one array element per line."""
    enc = lambda v: json.dumps(v, ensure_ascii=False, separators=(",", ":"))
    lines = ["{"]
    for k, v in head.items():
        lines.append("%s:%s," % (enc(k), enc(v)))
    for key, rows in (("pieces", pieces), ("cases", cases), ("byte_cases", byte_cases),
                      ("decode_cases", decode_cases)):
        lines.append('"%s":[' % key)
        lines.append(",\n".join(enc(r) for r in rows))
        lines.append("]" + ("" if key == "decode_cases" else ","))
    lines.append("}")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


RULES_TSV = "\n".join([
    "2160\t49",  # Ⅰ -> I
    "2161\t49 49",  # Ⅱ -> II
    "FB01\t66 69",  # ﬁ -> fi
    "201C\t22",  # “ -> "
    "201D\t22",  # ” -> "
    "3000\t20",  # ideographic space -> space
    "A0\t20",  # no-break space -> space
    "2026\t2E 2E 2E",  # … -> ...
    "FF2D FF32 FF29\t4D 52 49",  # ＭＲＩ -> MRI
    "65 301\tE9",  # e + combining acute -> é
    "200B\t",  # zero-width space -> deleted
    "9\t20 20",  # tab -> two spaces
]) + "\n"
DENORM_TSV = "4D 52 49\t4D 2E 52 2E 49 2E\n"  # MRI -> M.R.I. when decoding


def build(outdir):
    spm.set_random_generator_seed(SEED)  # self-test samples are drawn at random
    rng = random.Random(SEED)
    main_corpus = [medical_line(rng) for _ in range(20000)]
    tmpl_corpus = [template_line(rng) for _ in range(4000)]
    models = {}
    models["test"] = train(main_corpus, vocab_size=1500, **LLAMA)
    models["template"] = train(tmpl_corpus, vocab_size=400, **LLAMA)
    with tempfile.TemporaryDirectory() as tmp:
        cwd = os.getcwd()
        os.chdir(tmp)  # the rule file's name is stored in the model: keep it short
        try:
            with open("rules.tsv", "w") as f:
                f.write(RULES_TSV)
            with open("denorm.tsv", "w") as f:
                f.write(DENORM_TSV)
            models["rules"] = train(
                main_corpus[:6000], vocab_size=300, model_type="bpe",
                normalization_rule_tsv="rules.tsv", denormalization_rule_tsv="denorm.tsv",
                remove_extra_whitespaces=True, add_dummy_prefix=True, byte_fallback=False,
                user_defined_symbols=["<image>", "[INST]", "[/INST]", "top left", "MRI"],
                control_symbols=["<ctrl>"], character_coverage=0.995,
                self_test_sample_size=20)
        finally:
            os.chdir(cwd)
    models["suffix"] = train(main_corpus[:6000], vocab_size=600,
                             **dict(LLAMA, treat_whitespace_as_suffix=True))
    models["noprefix"] = train(
        main_corpus[:6000], vocab_size=300, model_type="bpe", add_dummy_prefix=False,
        normalization_rule_name="identity", remove_extra_whitespaces=False,
        byte_fallback=False, user_defined_symbols=["<image>", "🧠"],
        character_coverage=0.995)
    models["unused"] = mark_unused(models["template"], rng, 0.2)

    os.makedirs(outdir, exist_ok=True)
    for name, model in models.items():
        if name == "test":
            strings = golden_strings(rng, 2200)
            args = dict(with_pieces=False, n_bytes=120, n_decode=400)
        else:
            strings = golden_strings(rng, 300, n_long=1)
            if name in ("template", "unused"):
                strings += [template_line(rng) for _ in range(100)]
            args = dict(with_pieces=True, n_bytes=40, n_decode=120)
        with open(os.path.join(outdir, name + ".model"), "wb") as f:
            f.write(model)
        parts = golden(name, model, strings, rng, **args)
        dump(os.path.join(outdir, name + ".golden.json"), *parts)
        print("%-9s %7d bytes model, %4d pieces, %4d cases" % (
            name, len(model), parts[0]["vocab_size"], len(parts[2])))


def bench(model_path, golden_path):
    sp = spm.SentencePieceProcessor(model_file=model_path)
    with open(golden_path, encoding="utf-8") as f:
        texts = [c["text"] for c in json.load(f)["cases"]]
    nbytes = sum(len(t.encode()) for t in texts)
    long = " ".join(texts)

    def best(fn, reps):
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    per_string = best(lambda: [sp.encode(t) for t in texts], 20)
    joined = best(lambda: sp.encode(long), 20)
    print("python sentencepiece %s, %d strings, %d bytes" % (spm.__version__, len(texts), nbytes))
    print("  encode each: %.0f ns/string, %.2f MB/s" % (per_string / len(texts) * 1e9,
                                                        nbytes / per_string / 1e6))
    print("  encode joined (%d bytes): %.2f ms, %.2f MB/s" % (
        len(long.encode()), joined * 1e3, len(long.encode()) / joined / 1e6))


def external(model_path, out, n=3000, seed=SEED):
    with open(model_path, "rb") as f:
        model = f.read()
    rng = random.Random(seed)
    strings = golden_strings(rng, n) + [template_line(rng) for _ in range(n // 10)]
    parts = golden(os.path.basename(model_path)[:-len(".model")] if model_path.endswith(".model")
                   else os.path.basename(model_path), model, strings, rng, with_pieces=True,
                   n_bytes=max(40, n // 20), n_decode=max(100, n // 5))
    parts[0]["seed"] = seed
    dump(out, *parts)
    print("%s: %d cases" % (out, len(parts[2])))


def main(argv):
    if len(argv) >= 1 and argv[0] == "--golden":
        if not 3 <= len(argv) <= 5:
            sys.exit("usage: tokenizer_ref.py --golden MODEL OUT [N [SEED]]")
        external(argv[1], argv[2], *[int(a) for a in argv[3:]])
        return
    if len(argv) >= 1 and argv[0] == "--bench":
        if len(argv) != 3:
            sys.exit("usage: tokenizer_ref.py --bench MODEL GOLDEN")
        bench(argv[1], argv[2])
        return
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    outdir = argv[0] if argv else os.path.join(root, "testdata", "tokenizer")
    build(outdir)


if __name__ == "__main__":
    main(sys.argv[1:])
