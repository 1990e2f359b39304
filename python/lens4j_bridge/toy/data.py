"""Generated training data and the word-level tokenizer of the trained toy models.

Everything here is made from the word lists below with a seeded ``random.Random``: no files,
no network. The data carries the phenomena the seeds look at:

- IOI sentences ("When John and Mary went to the shops, John gave the bag to" -> " Mary"),
  many templates, both name orders; some names and templates are held out of them;
- filler in which every name (held-out ones too) appears, copying included
  ("James Potter went to school. James" -> " Potter");
- repeated random token sequences (induction), capital-city questions, a physics sentence,
  "fast : slow" antonym and "fast : schnell" translation blocks, and additions with an
  in-context offset ("3+5=9" when every example adds one: function induction).

The tokenizer splits text like GPT-2 (its byte-level regex: " Mary" is one piece, "When" at
the start another) and maps each piece to one id; ids 0 and 1 are ``<|endoftext|>`` (BOS/EOS,
prepended by TransformerLens as for GPT-2) and ``<|unk|>``. Pieces of the form " word" (space,
then letters) come last, from ``first_word_id`` to the end: random tokens drawn from that
range decode to text that tokenizes back to the same ids, which ``detect_head`` needs.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Callable

BOS = "<|endoftext|>"
UNK = "<|unk|>"

# -- names --------------------------------------------------------------------------------

# Names that fill IOI sentences during training. The seeds' names are among them.
IOI_TRAIN_NAMES = [
    "John", "Mary", "Tom", "James", "Dan", "Sid", "Martin", "Amy", "Alice", "Bob",
    "David", "Susan", "Peter", "Laura", "Chris", "Linda", "Steve", "Helen", "Mike", "Karen",
    "George", "Nancy", "Frank", "Julia", "Henry", "Grace", "Sam", "Ruth", "Adam", "Jane",
    "Eric", "Carol", "Ryan", "Diana", "Oliver", "Sophie", "Max", "Ella", "Leo", "Nina",
]
# In the vocabulary and in filler text, never in an IOI training sentence.
HELD_OUT_NAMES = ["Kate", "Claire", "Paul", "Lucy", "Mark", "Emma", "Jack", "Rose", "Luke", "Anna", "Ben", "Sarah"]
NAMES = IOI_TRAIN_NAMES + HELD_OUT_NAMES
SURNAMES = ["Potter", "Smith", "Brown", "Jones", "Miller", "Davis", "Wilson", "Taylor", "Clark", "Hall", "White", "Green"]

# -- IOI templates --------------------------------------------------------------------------

PLACES = [
    "shops", "store", "park", "school", "station", "market", "beach", "office", "garden", "cafe",
    "restaurant", "library", "zoo", "museum", "church", "farm", "hospital", "bank", "cinema", "lake",
]
OBJECTS = [
    "the bag", "the ball", "an apple", "a drink", "a bottle of milk", "the book", "a ring", "the key",
    "a letter", "a gift", "the cake", "a pen", "the hat", "a flower", "the box", "an orange",
    "the phone", "a basketball", "the necklace", "a snack", "the computer", "a kiss", "the bone", "a cup",
]
INTROS = ["When", "After", "While", "Once", "Then", "Because", "As"]
MOVES = ["went to the {P}", "were at the {P}", "arrived at the {P}", "walked to the {P}", "got to the {P}", "were working at the {P}"]
ACTIONS = ["gave {O} to", "handed {O} to", "passed {O} to", "sent {O} to", "threw {O} to", "brought {O} to", "showed {O} to", "offered {O} to", "tossed {O} to"]

# A template is (intro, move, action); intro "" is the bare form "A and B went to the X. A gave the Y to".
Template = tuple[str, str, str]

# Never used for training IOI sentences: four unseen combinations of seen parts, and one whose
# intro ("As") and verb ("tossed") occur only in filler text.
HELD_OUT_TEMPLATES: list[Template] = [
    ("After", "were at the {P}", "handed {O} to"),
    ("While", "walked to the {P}", "threw {O} to"),
    ("Once", "went to the {P}", "offered {O} to"),
    ("Then", "arrived at the {P}", "showed {O} to"),
    ("As", "went to the {P}", "tossed {O} to"),
]
_HELD_OUT_ONLY_WORDS = ("As", "tossed")
TRAIN_TEMPLATES: list[Template] = [
    (i, m, a)
    for i in [""] + INTROS for m in MOVES for a in ACTIONS
    if (i, m, a) not in HELD_OUT_TEMPLATES and i not in _HELD_OUT_ONLY_WORDS and not a.startswith(_HELD_OUT_ONLY_WORDS[1])
]

# The seeds' IOI prompts (001, 004) as format strings; they are train-template sentences.
SEED_IOI_PROMPTS = [
    ("When John and Mary went to the shops, John gave the bag to", " Mary", " John"),
    ("When John and Mary went to the shops, Mary gave the bag to", " John", " Mary"),
    ("When Tom and James went to the park, James gave the ball to", " Tom", " James"),
    ("When Tom and James went to the park, Tom gave the ball to", " James", " Tom"),
    ("When Dan and Sid went to the shops, Sid gave an apple to", " Dan", " Sid"),
    ("When Dan and Sid went to the shops, Dan gave an apple to", " Sid", " Dan"),
    ("After Martin and Amy went to the park, Amy gave a drink to", " Martin", " Amy"),
    ("After Martin and Amy went to the park, Martin gave a drink to", " Amy", " Martin"),
]


def ioi_sentence(template: Template, a: str, b: str, s: str, place: str, obj: str) -> str:
    """The prompt, ending in " to"; names are bare ("Mary"), the answer is the one that is not ``s``."""
    intro, move, action = template
    move, action = move.format(P=place), action.format(O=obj)
    if intro:
        return f"{intro} {a} and {b} {move}, {s} {action}"
    return f"{a} and {b} {move}. {s} {action}"


@dataclass(frozen=True)
class IoiPrompt:
    prompt: str
    io: str  # the indirect object, with its leading space: the right answer
    s: str  # the subject, with its leading space


def ioi_prompts(names: list[str], templates: list[Template], n: int, seed: int) -> list[IoiPrompt]:
    """``n`` IOI prompts; even ones have the subject second (ABB: "A and B ..., B gave"), odd ones first."""
    rng = random.Random(seed)
    out = []
    for k in range(n):
        a, b = rng.sample(names, 2)
        io, s = (a, b) if k % 2 == 0 else (b, a)
        t = templates[k % len(templates)]
        out.append(IoiPrompt(ioi_sentence(t, a, b, s, rng.choice(PLACES), rng.choice(OBJECTS)), " " + io, " " + s))
    return out


def ioi_eval_sets(n: int = 120, seed: int = 1234) -> dict[str, list[IoiPrompt]]:
    """The measured IOI sets; "held_out" (held-out names in held-out templates) is the headline."""
    seed_prompts = [IoiPrompt(p, io, s) for p, io, s in SEED_IOI_PROMPTS]
    return {
        "held_out": ioi_prompts(HELD_OUT_NAMES, HELD_OUT_TEMPLATES, n, seed),
        "held_out_names": ioi_prompts(HELD_OUT_NAMES, TRAIN_TEMPLATES, n, seed + 1),
        "held_out_templates": ioi_prompts(IOI_TRAIN_NAMES, HELD_OUT_TEMPLATES, n, seed + 2),
        "train": ioi_prompts(IOI_TRAIN_NAMES, TRAIN_TEMPLATES, n, seed + 3),
        "seed_prompts": seed_prompts,
    }


# -- the other seeds' patterns ---------------------------------------------------------------

# Seed 003's prompt pairs: antonym and German translation, both after the demarcation " :".
ANTONYMS = [
    ("fast", "slow"), ("cold", "warm"), ("big", "small"), ("happy", "sad"), ("light", "dark"), ("loud", "quiet"),
    ("new", "old"), ("rich", "poor"), ("strong", "weak"), ("young", "old"), ("clean", "dirty"), ("dry", "wet"),
    ("full", "empty"), ("good", "bad"), ("hard", "soft"), ("heavy", "light"), ("high", "low"), ("long", "short"),
    ("right", "wrong"), ("rough", "smooth"), ("sharp", "dull"), ("thick", "thin"), ("wide", "narrow"),
    ("brave", "cowardly"), ("calm", "angry"), ("clever", "stupid"), ("cruel", "kind"), ("deep", "shallow"),
    ("early", "late"), ("easy", "hard"), ("fake", "real"), ("far", "near"), ("first", "last"), ("free", "captive"),
    ("front", "back"), ("great", "terrible"), ("hot", "cold"), ("large", "small"), ("left", "right"),
    ("loose", "tight"), ("lost", "found"), ("low", "high"), ("major", "minor"), ("many", "few"), ("open", "closed"),
    ("past", "future"), ("peace", "war"), ("quick", "slow"), ("raw", "cooked"), ("safe", "dangerous"),
    ("same", "different"), ("short", "tall"), ("sick", "healthy"), ("simple", "complex"), ("single", "married"),
    ("slow", "fast"), ("small", "big"), ("smart", "dumb"), ("soft", "hard"), ("sour", "sweet"), ("start", "end"),
    ("stop", "go"), ("sweet", "sour"), ("tall", "short"), ("tame", "wild"), ("thin", "fat"), ("top", "bottom"),
    ("tough", "tender"), ("true", "false"), ("ugly", "beautiful"), ("urban", "rural"), ("used", "new"),
    ("useful", "useless"), ("valid", "invalid"), ("vast", "tiny"), ("vegan", "carnivore"), ("visible", "invisible"),
    ("vital", "trivial"), ("vivid", "dull"), ("warm", "cool"), ("waste", "save"), ("weak", "strong"),
    ("wealth", "poverty"), ("weird", "normal"), ("wet", "dry"), ("white", "black"), ("whole", "part"),
    ("wild", "tame"), ("win", "lose"), ("wise", "foolish"), ("woman", "man"), ("work", "play"), ("wrong", "right"),
    ("yes", "no"), ("zero", "one"),
]
TRANSLATIONS = [
    ("fast", "schnell"), ("cold", "kalt"), ("big", "groß"), ("happy", "froh"), ("light", "hell"), ("loud", "laut"),
    ("new", "neu"), ("rich", "reich"), ("strong", "stark"), ("young", "jung"), ("clean", "rein"), ("dry", "trocken"),
    ("full", "voll"), ("good", "gut"), ("hard", "hart"), ("heavy", "schwer"), ("high", "hoch"), ("long", "lang"),
    ("right", "richtig"), ("rough", "rau"), ("sharp", "scharf"), ("thick", "dick"), ("wide", "breit"),
    ("brave", "mutig"), ("calm", "ruhig"), ("clever", "klug"), ("cruel", "grausam"), ("deep", "tief"),
    ("early", "früh"), ("easy", "leicht"), ("fake", "falsch"), ("far", "weit"), ("first", "erster"),
    ("free", "frei"), ("front", "vorne"), ("great", "toll"), ("hot", "heiß"), ("large", "groß"), ("left", "links"),
    ("loose", "locker"), ("lost", "verloren"), ("low", "niedrig"), ("major", "wichtig"), ("many", "viele"),
    ("open", "offen"), ("past", "vergangen"), ("peace", "frieden"), ("quick", "schnell"), ("raw", "roh"),
    ("safe", "sicher"), ("same", "gleich"), ("short", "kurz"), ("sick", "krank"), ("simple", "einfach"),
    ("single", "ledig"), ("slow", "langsam"), ("small", "klein"), ("smart", "klug"), ("soft", "weich"),
    ("sour", "sauer"), ("start", "anfang"), ("stop", "halt"), ("sweet", "süß"), ("tall", "groß"), ("tame", "zahm"),
    ("thin", "dünn"), ("top", "oben"), ("tough", "zäh"), ("true", "wahr"), ("ugly", "hässlich"),
    ("urban", "städtisch"), ("used", "gebraucht"), ("useful", "nützlich"), ("valid", "gültig"), ("vast", "riesig"),
    ("vegan", "vegan"), ("visible", "sichtbar"), ("vital", "wichtig"), ("vivid", "lebhaft"), ("warm", "warm"),
    ("waste", "abfall"), ("weak", "schwach"), ("wealth", "reichtum"), ("weird", "seltsam"), ("wet", "nass"),
    ("white", "weiß"), ("whole", "ganz"), ("wild", "wild"), ("win", "sieg"), ("wise", "weise"), ("woman", "frau"),
    ("work", "arbeit"), ("wrong", "falsch"), ("yes", "ja"), ("zero", "null"),
]
# Seed 000: "What is the capital of France?" -> " Paris" (clean) vs England -> " London".
CAPITALS = [
    ("France", "Paris"), ("England", "London"), ("Germany", "Berlin"), ("Italy", "Rome"), ("Spain", "Madrid"),
    ("Japan", "Tokyo"), ("Russia", "Moscow"), ("China", "Beijing"), ("Egypt", "Cairo"), ("Greece", "Athens"),
    ("Austria", "Vienna"), ("Poland", "Warsaw"), ("Ireland", "Dublin"), ("Norway", "Oslo"), ("Portugal", "Lisbon"),
    ("Canada", "Ottawa"),
]
# Seed 000's physics prompts: drop -> " gravity", throw -> " air".
PHYSICS = [("drop", "gravity"), ("throw", "air"), ("push", "friction")]
PHYSICS_THINGS = ["ball", "stone", "cup", "book", "box", "apple"]

ANIMALS = ["cat", "dog", "bird", "horse", "cow", "fish", "mouse", "fox"]
THINGS = ["mat", "chair", "table", "bed", "floor", "roof", "wall", "rug"]
ADJECTIVES = ["happy", "tired", "hungry", "kind", "quiet", "busy", "late", "early", "calm", "angry"]
SENTENCES = [
    "The Eiffel Tower is in the city of Paris.",
    "I think that the answer is yes, but you said no.",
    "One, two, three, four, five, six, seven, eight, nine, ten.",
    "The sun is hot and the snow is cold.",
    "We like to read books in the evening.",
    "It was a long day, so they went home early.",
    "The weather is nice today, and the sky is blue.",
    "Love and hate, good and bad, day and night.",
]
EXTRA_WORDS = (
    "a an the and or but so if then than that this these those it its is are was were be been has have had "
    "do does did not no yes you your we our they their he his she her him them me my mine what who where "
    "when why how which there here up down in on at to of for from with by about into over under after "
    "before again very much more most some any all each every other new good great little big old young "
    "day time year people man woman child world life hand part place case week company system program "
    "question work number night point home water room mother father area money story fact month lot "
    "right study book eye job word business issue side kind head house service friend power hour game "
    "line end member law car city community name president team minute idea kid body information back "
    "parent face others level office door health person art war history party result change morning "
    "reason research girl guy moment air teacher force education foot boy age policy music market "
    "sense nation plan college interest death experience effect use class control care field "
    "development role effort rate heart drug show leader light voice wife police mind price report "
    "decision son view relationship town road arm difference value building action model season society "
    "tax director position player record paper space ground form event official matter center couple "
    "site project activity star table need court oil situation cost industry figure street image phone "
    "data picture practice piece land product doctor wall patient worker news test movie north love "
    "support technology step baby computer type attention film tree source organization hair window "
    "evidence population truth song go say get make know think take see come want look give find tell "
    "ask feel try leave call keep let begin seem help talk turn start run move live believe hold bring "
    "happen write sit stand lose pay meet include continue set learn lead understand watch follow stop "
    "create speak read spend grow open walk offer remember consider appear buy wait serve die send build "
    "stay fall cut reach kill remain suggest raise pass sell decide return explain hope develop carry "
    "break receive agree hit produce eat cover catch draw choose red blue green yellow black gray"
).split()


# -- the tokenizer ------------------------------------------------------------------------------

def vocabulary_texts() -> list[str]:
    """Every word and template piece the data can produce, as text to pre-tokenize."""
    words: set[str] = set(EXTRA_WORDS) | set(NAMES) | set(SURNAMES) | set(PLACES) | set(ANIMALS) | set(THINGS)
    words |= set(ADJECTIVES) | set(INTROS)
    for pairs in (ANTONYMS, TRANSLATIONS, CAPITALS, PHYSICS):
        for x, y in pairs:
            words |= {x, y}
    words |= set(PHYSICS_THINGS)
    parts = [re.sub(r"\{\w+\}", " ", p) for p in OBJECTS + MOVES + ACTIONS + SENTENCES + _FILLER_TEMPLATES + [_QA_TEMPLATE, _PHYSICS_TEMPLATE]]
    for part in parts:
        words |= set(re.findall(r"[^\W\d_]+", part))
    texts = [w for w in sorted(words)] + [" " + w for w in sorted(words)]
    numbers = [str(n) for n in range(0, 21)]
    texts += numbers + [" " + n for n in numbers]
    texts += [",", ".", "?", "!", ":", ";", "+", "=", "-", "(", ")", " :", " -", " (", "\n", "\n\n", " "]
    return texts


def build_tokenizer():
    """The word-level GPT-2-style tokenizer, as a ``transformers`` fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    pre = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    pieces: set[str] = set()
    for text in vocabulary_texts():
        pieces.update(p for p, _ in pre.pre_tokenize_str(text))
    # Byte-level pieces spell a leading space as "Ġ"; " word" pieces go last (see the module doc).
    is_word = re.compile(r"^Ġ[^\WĠ\d_]+$")
    words = sorted(p for p in pieces if is_word.match(p))
    others = sorted(p for p in pieces if not is_word.match(p))
    vocab = {tok: i for i, tok in enumerate([BOS, UNK] + others + words)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    tok.pre_tokenizer = pre
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([BOS, UNK])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=BOS, eos_token=BOS, unk_token=UNK, model_max_length=1024,
    )


def first_word_id(tokenizer) -> int:
    """The first id of the " word" block (random tokens drawn from here on round-trip through text)."""
    return min(i for t, i in tokenizer.get_vocab().items() if re.match(r"^Ġ[^\WĠ\d_]+$", t))


# -- the generators --------------------------------------------------------------------------------

_FILLER_TEMPLATES = [
    "{A} likes the {P}.",
    "{A} went to the {P} alone.",
    "{A} and {B} are friends.",
    "{A} saw {B} at the {P}.",
    "The friend of {A} is {B}.",
    "{A} has {O}.",
    "{A} {S} went to school. {A} {S} is a student.",
    "{A} {S} lives near the {P}. Everyone knows {A} {S}.",
    "{A} said hello to {B}.",
    "{A}, {B} and {C} played a game. {A}, {B} and {C} won.",
    "This is {A}. {A} is {J}.",
    "{A} is {J} today.",
    "The {N} sat on the {T}.",
    "The {N} of {A} is {J}.",
    "As the {N} slept, {A} tossed {O} into the box.",
    "As {A} tossed {O}, {B} laughed.",
]
_QA_TEMPLATE = "What is the capital of {X}? {Y}. The capital of {X} is {Y}."
_PHYSICS_TEMPLATE = "When you {V} a {T}, it falls to the ground because of {Y}."


@dataclass
class Example:
    ids: list[int]
    weights: list[float] = field(default_factory=list)  # loss weight of predicting ids[i] (index 0 unused)


class DataGenerator:
    """Seeded example makers; each returns token ids starting with BOS, and loss weights."""

    def __init__(self, tokenizer, seed: int, ioi_answer_weight: float = 4.0) -> None:
        self.tok = tokenizer
        self.rng = random.Random(seed)
        self.bos = tokenizer.bos_token_id
        self.first_word = first_word_id(tokenizer)
        self.vocab_size = len(tokenizer)
        self.ioi_answer_weight = ioi_answer_weight

    def encode(self, text: str) -> list[int]:
        return self.tok(text, add_special_tokens=False)["input_ids"]

    def text_example(self, text: str) -> Example:
        ids = [self.bos] + self.encode(text)
        return Example(ids, [1.0] * len(ids))

    # IOI
    def ioi(self) -> Example:
        r = self.rng
        a, b = r.sample(IOI_TRAIN_NAMES, 2)
        s = r.choice([a, b])
        io = b if s == a else a
        prompt = ioi_sentence(r.choice(TRAIN_TEMPLATES), a, b, s, r.choice(PLACES), r.choice(OBJECTS))
        ids = [self.bos] + self.encode(prompt)
        answer = len(ids)
        ids += self.encode(f" {io}.")
        weights = [1.0] * len(ids)
        weights[answer] = self.ioi_answer_weight
        return Example(ids, weights)

    # filler, where every name (held-out ones too) appears
    def filler(self) -> Example:
        r = self.rng
        a, b, c = r.sample(NAMES, 3)
        text = r.choice(_FILLER_TEMPLATES).format(
            A=a, B=b, C=c, S=r.choice(SURNAMES), P=r.choice(PLACES), O=r.choice(OBJECTS),
            J=r.choice(ADJECTIVES), N=r.choice(ANIMALS), T=r.choice(THINGS),
        )
        if r.random() < 0.3:
            text = r.choice(SENTENCES) + " " + text
        return self.text_example(text)

    def qa(self) -> Example:
        r = self.rng
        if r.random() < 0.6:
            x, y = r.choice(CAPITALS)
            return self.text_example(_QA_TEMPLATE.format(X=x, Y=y))
        v, y = r.choice(PHYSICS)
        return self.text_example(_PHYSICS_TEMPLATE.format(V=v, T=r.choice(PHYSICS_THINGS), Y=y))

    def pairs(self) -> Example:
        """A block of "x : y" lines, all antonyms or all translations: the task is inferred in context."""
        r = self.rng
        table = ANTONYMS if r.random() < 0.5 else TRANSLATIONS
        lines = [f"{x} : {y}" for x, y in r.sample(table, r.randint(1, 6))]
        return self.text_example("\n".join(lines))

    def arithmetic(self) -> Example:
        """Additions "a+b=c", 4 to 6 a block, all with the same offset (0, or 1 or 2: function induction)."""
        r = self.rng
        offset = r.choice([0, 0, 1, 1, 2])
        lines = []
        for _ in range(r.randint(4, 6)):
            x, y = r.randint(0, 9), r.randint(0, 9)
            lines.append(f"{x}+{y}={x + y + offset}")
        return self.text_example("\n".join(lines))

    def induction(self, min_len: int = 4, max_len: int = 100) -> Example:
        """BOS, n random " word" tokens, the same n again."""
        n = self.rng.randint(min_len, max_len)
        half = [self.rng.randrange(self.first_word, self.vocab_size) for _ in range(n)]
        ids = [self.bos] + half + half
        return Example(ids, [1.0] * len(ids))


# The mix of short examples in a toy-ioi batch (probabilities); long induction batches are separate.
IOI_MIX: dict[str, float] = {"ioi": 0.45, "filler": 0.2, "pairs": 0.1, "arithmetic": 0.1, "qa": 0.07, "short_induction": 0.08}


def sample_mix(gen: DataGenerator, mix: dict[str, float]) -> Example:
    makers: dict[str, Callable[[], Example]] = {
        "ioi": gen.ioi, "filler": gen.filler, "pairs": gen.pairs, "arithmetic": gen.arithmetic, "qa": gen.qa,
        "short_induction": lambda: gen.induction(4, 20),
    }
    name = gen.rng.choices(list(mix), weights=list(mix.values()))[0]
    return makers[name]()
