"""An article's guide: its most central sentences, the names it uses, and questions the engine
has already answered from it — every item a citation of the article's own characters.

* **Summary**: the sentences nearest the article's centroid (the mean of its sentence vectors,
  which the library already holds), with a prior for the lead and for words of the title,
  three of them, in article order (``SUMMARY_SENTENCES``; weights measured in
  ``docs/evaluation.md``, "Article guide").
* **Names**: runs of capitalised words outside a sentence's first word (or there when the same
  run recurs elsewhere), honorifics dropped ("Mr. Abu Marzouk" is "Abu Marzouk"); a one- or
  two-word name that ends a longer one is grouped with it ("Netanyahu" with "Benjamin
  Netanyahu"), and a plural with its singular ("Normans", "Norman"). Written here, with no NER
  library: spaCy's English models are not on the package registry this machine installs from
  (the copies there are third-party re-uploads), and the rest (GLiNER, Flair, Stanza) fetch
  their weights from a hub at run time. The kind (person, organisation, place) is read from the
  words around the mentions and is a guess.
* **Questions**: made from the names and from sentences that state a cause, each asked of the
  engine and kept only when it answers (does not abstain) and its first citation covers the
  sentence the question was made from.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from index.text import tokenize
from qa.types import Citation

SUMMARY_SENTENCES = 3
MAX_NAMES = 12
MAX_QUESTIONS = 6
GUIDE_VERSION = 4
# the summary's score: cosine to the centroid + LEAD_WEIGHT / (1 + position) + TITLE_WEIGHT x
# share of the title's content stems in the sentence (chosen by figure: docs/evaluation.md,
# "Article guide")
LEAD_WEIGHT = 0.15
TITLE_WEIGHT = 0.20

_HONORIFIC = re.compile(r"^(Mr|Mrs|Ms|Dr|Prof|Sir|Gen|Col|Capt|Lt|Sgt|Rep|Sen|Gov|Rev)\.?\s+")
_TITLE_WORDS = re.compile(r"\b(President|Prime Minister|Minister|Secretary|Director|Chancellor|"
                          r"King|Queen|Prince|Senator|Governor|spokesman|spokeswoman|official|"
                          r"leader|chief|head|Mr|Mrs|Ms|Dr)\.?\s*$")
_ORG_WORDS = re.compile(r"\b(Ministry|Council|Party|Agency|Forces|Army|Union|Association|"
                        r"Committee|Commission|Department|Office|Bank|Company|Corporation|Inc|"
                        r"Group|Organization|Organisation|Authority|Court|Parliament|Congress|"
                        r"University|Institute|Service|Administration|Hamas|Hezbollah|"
                        r"Fund|Foundation|Board|News|Times|Post)\b")
_PLACE_BEFORE = re.compile(r"\b(in|from|to|at|near|into|across|of|outside|inside)\s*$")
_NAME = re.compile(r"(?:[A-Z][\w'’-]*\.?|al-[A-Z][\w'’-]*)(?:\s+(?:(?:of|the|al|bin|ibn|de|van|von|"
                   r"del|da)\s+)?(?:[A-Z][\w'’-]*\.?|al-[A-Z][\w'’-]*))*")
_STOP_NAMES = {"The", "A", "An", "In", "On", "At", "But", "And", "It", "He", "She", "They",
               "We", "I", "This", "That", "These", "Those", "His", "Her", "Their", "Its", "As",
               "If", "When", "While", "After", "Before", "For", "With", "By", "From", "To", "Of",
               "Mr", "Mrs", "Ms", "Dr", "There", "What", "Who", "Why", "How", "Some", "Many",
               "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
               "January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December", "Still", "Also", "So", "Yet",
               "However", "Meanwhile", "According", "Last", "Next", "One", "Two", "Earlier",
               "Within", "Since", "Under", "Over", "During", "Although", "Though", "Because",
               "Despite", "Among", "Between", "Through", "Throughout", "Until", "Upon", "Without",
               "Against", "Following", "Including", "Unlike", "Like", "Where", "Whether", "Each",
               "Every", "Both", "All", "Most", "Such", "Other", "Another", "Only", "Even", "Then",
               "Now", "Today", "Here", "Instead", "Thus", "Therefore", "Later", "First", "Finally",
               "Initially", "Normally", "Generally", "Traditionally"}
_LEADING_TITLES = {"President", "Prime", "Minister", "Secretary", "Director", "Chancellor",
                   "General", "King", "Queen", "Prince", "Senator", "Governor", "Foreign",
                   "Defense", "Defence", "State", "Israeli", "Egyptian", "American", "Palestinian",
                   "Qatari", "British", "French", "German", "Russian", "Chinese", "Former"}
_NOT_LEADING = _STOP_NAMES | _LEADING_TITLES  # words a name does not start with
_PLACE_END = re.compile(r"\b(Strip|City|Bank|Sea|River|Street|Square|County|Province|Island|"
                        r"Islands|Mountains|Mountain|Valley|Gulf|Ocean|Republic|States|Kingdom|"
                        r"Alps|Lake|Coast|Desert|Basin|Peninsula|Bay|Canal|Channel|Forest|Park)$")
_CONNECTOR_END = re.compile(r"\b(of|the|al|bin|ibn|de|van|von|del|da)\s+$")
_PLACE_START = re.compile(r"^(Lake|Mount|Mt|Cape|Port|Fort|Gulf of|Bay of|Isle of|North|South|East|"
                          r"West|Central|Northern|Southern|Eastern|Western|New)\b")
_CAUSE = re.compile(r"\b(because|due to|in order to|so that|the main (obstacle|reason|cause)|"
                    r"blamed|as a result of|led to|forced)\b", re.IGNORECASE)


@dataclass(frozen=True)
class GuideName:
    """A name the article uses: its longest form, kind (a guess: "person", "organisation",
    "place" or "name"), the forms seen, and every mention as a citation."""
    name: str
    kind: str
    variants: list[str]
    mentions: list[Citation]


@dataclass(frozen=True)
class GuideQuestion:
    """A question made from the article that the engine answered from the sentence it was made
    from: the question, the engine's confidence and its first citation."""
    question: str
    confidence: float
    citation: Citation


@dataclass(frozen=True)
class ArticleGuide:
    """What an article says (``summary``), whom and what it names (``names``), and questions it
    answers (``questions``); ``dropped``: candidate questions the engine did not answer from
    their sentence (not shown); ``seconds``: the time it took to make."""
    doc_id: str
    summary: list[Citation]
    names: list[GuideName]
    questions: list[GuideQuestion]
    dropped: int = 0
    seconds: float = 0.0
    version: int = GUIDE_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The guide as a JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ArticleGuide:
        """A guide from :meth:`to_dict`'s output."""
        def cite(c: dict) -> Citation:
            return Citation(**c)

        return cls(
            doc_id=data["doc_id"], summary=[cite(c) for c in data["summary"]],
            names=[GuideName(n["name"], n["kind"], list(n["variants"]), [cite(c) for c in n["mentions"]])
                   for n in data["names"]],
            questions=[GuideQuestion(q["question"], q["confidence"], cite(q["citation"]))
                       for q in data["questions"]],
            dropped=data.get("dropped", 0), seconds=data.get("seconds", 0.0),
            version=data.get("version", 0), extra=data.get("extra", {}))


def summary_rows(vectors: np.ndarray, sentences: list[str], title: str,
                 k: int = SUMMARY_SENTENCES, lead: float = LEAD_WEIGHT,
                 title_weight: float = TITLE_WEIGHT) -> list[int]:
    """The positions of the ``k`` summary sentences, in article order (module docstring)."""
    if not sentences:
        return []
    centroid = vectors.mean(axis=0)
    centroid = centroid / (np.linalg.norm(centroid) or 1.0)
    score = vectors @ centroid
    score = score + lead / (1.0 + np.arange(len(sentences)))
    title_stems = {t.stem for t in tokenize(title) if t.stem}
    if title_stems and title_weight:
        score = score + title_weight * np.array(
            [len(title_stems & {t.stem for t in tokenize(s) if t.stem}) / len(title_stems)
             for s in sentences])
    headline = " ".join(title.split()).rstrip(".").lower()
    too_short = np.array([len(s.split()) < 6 or " ".join(s.split()).rstrip(".").lower() == headline
                          for s in sentences])
    score = np.where(too_short, -np.inf, score)  # a dateline, a caption or the headline is no summary
    best = [int(i) for i in np.argsort(-score)[:k] if np.isfinite(score[i])]
    return sorted(best)


def find_names(text: str, spans: list[tuple[int, int]]) -> list[tuple[str, str, list[tuple[int, int]]]]:
    """The article's names as (name, kind, mention spans), most mentioned first; ``spans``: its
    sentences' (start, end)."""
    mentions: dict[str, list[tuple[int, int]]] = defaultdict(list)
    context: dict[str, list[str]] = defaultdict(list)
    at_start: Counter = Counter()
    for s, e in spans:
        for m in _NAME.finditer(text, s, e):
            words = [(m.start() + w.start(), m.start() + w.end()) for w in re.finditer(r"\S+", m.group())]
            while words and (text[words[0][0]:words[0][1]].rstrip(".") in _NOT_LEADING
                             or _HONORIFIC.match(text[words[0][0]:words[0][1]] + " ")):
                words = words[1:]
            while words and (text[words[0][0]].islower() or (
                    len(words) > 1 and text[words[0][0]:words[0][1]].endswith("ly")
                    and text[words[1][0]].islower())):
                words = words[1:]  # "the EU" from "Within the EU"; "Initially the Normans"
            if not words:
                continue
            a, b = words[0][0], words[-1][1]
            if text[a:b].endswith(("'s", "’s")):
                b -= 2
            while b > a and text[b - 1] in ".’',":
                b -= 1
            form = text[a:b]
            if len(form) < 3 and not form.isupper():
                continue
            at_start[form] += a == s
            mentions[form].append((a, b))
            context[form].append(text[max(s, a - 40):a])
    # a name only ever seen as a sentence's first word is usually not one ("Officials", "Israeli")
    # and a single word seen once is more often a stray capital ("Dear") than a name
    # (unless it ends a longer name: "Lopez said" after "Maria Lopez")
    longer = [f for f in mentions if len(f.split()) > 1]
    ends_longer = {f for f in mentions if any(g.endswith(" " + f) for g in longer)}
    forms = [f for f in mentions if f in ends_longer or len(f.split()) > 1
             or (at_start[f] < len(mentions[f]) and len(mentions[f]) > 1)]
    groups: dict[str, list[str]] = {}
    for f in sorted(forms, key=lambda x: -len(x.split())):
        # a shorter form that ends a longer one is the same one ("Netanyahu", "Abu Marzouk")
        # ... but not the place after "of" ("Normandy" is not "Richard I of Normandy")
        owner = next((g for g in groups if len(f.split()) < len(g.split()) and g.endswith(" " + f)
                      and not _PLACE_END.search(g) and not _CONNECTOR_END.search(g[: -len(f)])), None)
        groups.setdefault(owner or f, []).append(f)
    for g in [g for g in groups if g.endswith("s") and g[:-1] in groups]:
        groups[g] += groups.pop(g[:-1])  # "Normans" and "Norman": one name, the plural's
    out = []
    for name, variants in groups.items():
        found = sorted({sp for v in variants for sp in mentions[v]})
        out.append((name, _kind(name, variants, context), found))
    out.sort(key=lambda x: (-len(x[2]), x[2][0]))
    return out


def _kind(name: str, variants: list[str], context: dict[str, list[str]]) -> str:
    if _ORG_WORDS.search(name) or (name.isupper() and len(name) <= 6):
        return "organisation"
    if _PLACE_END.search(name) or _PLACE_START.search(name):
        return "place"
    if re.search(r"\s(?:I|II|III|IV|V|VI|VII|VIII|IX|X|XI|XII)(?:\s|$)", name):
        return "person"  # "Richard I of Normandy", "Charles III of West Francia"
    if any(_TITLE_WORDS.search(c) for v in variants for c in context[v]) or (
            2 <= len(name.split()) <= 3 and len(variants) > 1
            and not any(w.isupper() for w in name.split())):
        return "person"
    if any(_PLACE_BEFORE.search(c) for v in variants for c in context[v]):
        return "place"
    return "name"


def make_guide(svc: Any, doc_id: str) -> ArticleGuide:
    """Compute the guide of article ``doc_id`` with the engine ``svc`` (a ``qa.QAService``,
    which imports this module); ``ArticleGuide.seconds`` says how long it took."""
    import time

    from qa.answer import cite
    from qa.define import apposition

    t0 = time.perf_counter()
    index = svc.index
    record = index.get_document(doc_id)
    rows, _ = index.rows_of([record.doc_id])
    sentences = [index.sentences[int(r)] for r in rows]
    text = record.text
    vectors = np.asarray(index.sentence_vectors[rows], dtype=np.float32)
    picked = summary_rows(vectors, [s.text for s in sentences], record.title)
    summary = [cite(doc_id, text, sentences[i].start, sentences[i].end, 1.0) for i in picked]

    names = []
    for name, kind, spans in find_names(text, [(s.start, s.end) for s in sentences])[:MAX_NAMES]:
        variants = sorted({text[a:b] for a, b in spans}, key=lambda v: (-len(v), v))
        names.append(GuideName(name, kind, variants, [cite(doc_id, text, a, b, 1.0) for a, b in spans]))

    per_name = [name_questions(n, [s.text for s in sentences], apposition) for n in names]
    # (question, the sentence position it was made from): each name's first question before any
    # name's second, so the questions are about several names; a why-question where the article
    # states a cause comes first (they are rare)
    why, events = [], []
    for i, s in enumerate(sentences):
        m = _CAUSE.search(s.text)
        if m and (topic := why_topic(s.text[: m.start()])):
            why.append((f"Why {topic}?", i))
        if m := re.search(rf"\b{_DID.pattern}\s+((?:the\s+)?)({_NAME.pattern})", s.text):
            events.append((f"Who {m.group(1)} {m.group(2)}{m.group(3).rstrip('.')}?", i))
        if m := _LED_TO.search(s.text):
            events.append((f"What {m.group(1)} {m.group(2)}?", i))
    candidates = (why[:1] + [qs[0] for qs in per_name if qs] + events[:3] + why[1:]
                  + [qs[1] for qs in per_name if len(qs) > 1])
    questions, dropped, seen = [], 0, set()
    for q, i in candidates:
        if q in seen or len(questions) >= MAX_QUESTIONS:
            continue
        seen.add(q)
        ans = svc.ask(q, doc_ids=[doc_id])
        source = sentences[i]
        top = ans.citations[0] if ans.citations else None
        if ans.abstained or top is None or not (top.start <= source.start and source.end <= top.end):
            dropped += 1
            continue
        questions.append(GuideQuestion(q, round(ans.confidence, 4), top))
    return ArticleGuide(record.doc_id, summary, names, questions, dropped,
                        round(time.perf_counter() - t0, 3))


_SAID = re.compile(r"\b(said|says|told|stated)\b")
_COPULA = r"\s*(?:\([^)]*\)\s*)?(is|was|are|were)\s+"
_VERBED = re.compile(r"(\w+ed|built|founded|born|made|held|won|written|known|begun|chosen|taken)"
                     r"\s+(?:in|on)\s+(?:the\s+)?(\d{3,4}|\d{1,2}(?:st|nd|rd|th)\s+century)\b")
_LED_TO = re.compile(r"\b(led to|resulted in|sparked|triggered|prompted)\s+(the\s+[^,.;:]{3,60}?)[,.;:]")
_DID = re.compile(r"(founded|established|built|created|designed|led|won|signed|wrote|invented|"
                  r"discovered|defeated|conquered|captured|invaded|attacked|rejected|proposed|"
                  r"appointed|elected|bought|acquired|sued)")


def name_questions(name: GuideName, texts: list[str], apposition: Any) -> list[tuple[str, int]]:
    """Up to two (question, sentence position) candidates about ``name``, in this order of
    preference: what or who it is (an apposition, or a copula with the name as subject: "The
    Normans (...) were the people who"), where it is, what it is known for, when it was made,
    who did something to it ("founded the Kingdom of Sicily"), what a person said."""
    if len(name.name) < 2:
        return []  # "What is P?" is not a question a reader asks
    who = "Who" if name.kind == "person" else "What"
    alt = "|".join(re.escape(v) for v in name.variants)
    subject = rf"(?:^|,\s+)(?:[A-Za-z]+ly,?\s+)?((?:[Tt]he\s+)?)(?:{alt})(?!\w)" + _COPULA
    found: dict[str, tuple[str, int]] = {}
    joined = " ".join(texts)
    with_the = len(re.findall(rf"\b[Tt]he\s+(?:{alt})(?!\w)", joined))
    mentioned = len(re.findall(rf"(?<!\w)(?:{alt})(?!\w)", joined))
    the = "the " if name.kind != "person" and 2 * with_the > mentioned else ""

    def first(kind: str, question: str, i: int) -> None:
        found.setdefault(kind, (question, i))

    for i, t in enumerate(texts):
        if not any(v in t for v in name.variants):
            continue
        if any(apposition(t, v) for v in name.variants):
            first("define", f"{who} is {the}{name.name}?", i)
        elif m := re.search(subject + r"(?:a|an|the)\s", t):
            first("define", f"{who} {m.group(2)} {m.group(1).lower() or the}{name.name}?", i)
        if m := re.search(subject + r"(located|based|situated)\s+(?:in|on|at)\s", t):
            first("other", f"Where {m.group(2)} {m.group(1).lower() or the}{name.name} {m.group(3)}?", i)
        if m := re.search(subject + r"((?:best\s+)?(?:known|noted|famed|famous|remembered))\s+for\s", t):
            first("other", f"What {m.group(2)} {m.group(1).lower() or the}{name.name} {m.group(3)} for?", i)
        if m := re.search(subject + _VERBED.pattern, t):
            first("other", f"When {m.group(2)} {m.group(1).lower() or the}{name.name} {m.group(3)}?", i)
        if m := re.search(rf"\b{_DID.pattern}\s+((?:the\s+)?)(?:{alt})(?!\w)", t):
            first("other", f"Who {m.group(1)} {m.group(2)}{name.name}?", i)
        if name.kind == "person" and _SAID.search(t):
            first("said", f"What did {the}{name.name} say?", i)
    return [found[k] for k in ("define", "other", "said") if k in found][:2]


_AUX_PAST = re.compile(r"^(.*?)\b(was|were|is|are|has been|have been|had been)\s+(.+)$")


def why_topic(clause: str) -> str | None:
    """The clause before a cause cue as the body of a why-question, when it has an auxiliary
    to move ("the bridge was closed" → "was the bridge closed"; "have been used" → "have X been
    used") and reads as one: a short subject without commas, brackets or a leading adverb, and a
    predicate that does not end on an adverb. None otherwise (turning "the talks stalled" into
    "did the talks stall" needs a verb's lemma, which no rule here knows)."""
    clause = clause.strip(" ,;:—-")
    clause = re.sub(r"^(but|and|so|then|however)\s+", "", clause, flags=re.IGNORECASE)
    m = _AUX_PAST.match(clause)
    if not m or not m.group(1).strip() or len(clause.split()) > 14:
        return None
    subject, aux, rest = m.group(1).strip(), m.group(2).split(), m.group(3).strip()
    words, last = subject.split(), rest.split()[-1].lower()
    if (len(words) > 6 or re.search(r"[,;:()\[\]\"“”]", subject + rest) or words[0].endswith("ly")
            or last.endswith("ly") or last in _DANGLING):
        return None
    if words[0].lower() in _COMMON_FIRST:
        subject = subject[0].lower() + subject[1:]
    return " ".join([aux[0], subject, *aux[1:], rest])


_DANGLING = {"not", "just", "only", "also", "even", "so", "than", "as", "the", "a", "an", "of",
             "to", "in", "and", "or", "but"}
_COMMON_FIRST = {"the", "a", "an", "they", "it", "he", "she", "we", "some", "many", "most", "these",
                 "those", "this", "that", "its", "their", "his", "her", "our", "such", "both", "all",
                 "each", "every"}


def guide_of(svc: Any, doc_id: str, cache: dict) -> ArticleGuide:
    """The guide of article ``doc_id``: made once per text and kept, in memory and, for a
    library on disk, as a derived file ``guides/<text hash>.json`` beside the store (re-made
    when missing, unreadable, or made by another version or encoder); ``cache``: the service's
    guides in memory."""
    import json
    import os

    record = svc.index.get_document(doc_id)
    key = (record.content_hash, svc.config.model_name)
    if key in cache:
        return cache[key]
    root = svc.index.root
    path = root / "guides" / f"{record.content_hash}.json" if root is not None else None
    guide = None
    if path is not None and path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("version") == GUIDE_VERSION and data.get("extra", {}).get("model") == key[1]:
                guide = ArticleGuide.from_dict({**data, "doc_id": record.doc_id})
        except (OSError, ValueError, KeyError, TypeError):
            guide = None  # damaged: made again
    if guide is None:
        guide = make_guide(svc, record.doc_id)
        guide.extra["model"] = key[1]
        if path is not None:
            try:
                path.parent.mkdir(exist_ok=True)
                tmp = path.with_suffix(f".tmp-{os.getpid()}")
                tmp.write_text(json.dumps(guide.to_dict(), ensure_ascii=False), encoding="utf-8")
                tmp.replace(path)
            except OSError:
                pass  # a read-only library: the guide is kept in memory only
    cache[key] = guide
    return guide
