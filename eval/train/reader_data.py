"""Training examples for the reader, made from SQuAD v1.1 train articles (never the benchmark
articles, never the seed article).

One example is a question and one sentence of the article, as the engine will show them to the
reader: the sentence split by the engine's own splitter. Its label is the answer's character
span inside the sentence, or ``None`` (no answer). Per question:

* the sentence that holds the answer (first occurrence in the question's paragraph), labelled
  with the span;
* hard negatives: the sentences of the article that share most idf-weighted words with the
  question but do not hold the answer (what lexical retrieval puts first), labelled ``None``;
* for a share of questions, an *adversarial* copy of the question that the answer sentence no
  longer answers, as SQuAD 2.0's writers made them: a name, number or year of the question
  swapped for another of the same kind from the article that the sentence does not contain;
  labelled ``None`` on the answer sentence. These are the near-miss questions that raw
  similarity cannot tell apart. (Common words are not swapped: a question in other words than
  its sentence must stay answerable, and a swapped common word would teach the opposite.)
* the other kinds of SQuAD 2.0's writers, where a rule can make them: an *antonym* ("largest" for
  "smallest", "before" for "after") of a word that the question and the answer sentence share,
  and a *negation* ("Who was not elected ...?") of a question in the passive when the sentence
  holds no negation; both labelled ``None`` on the answer sentence.
* a *word swap* (``word_swaps``): a lower-case content word that the question shares with the
  answer sentence (outside the answer) replaced by another word of the article with the same
  ending ("-ed", "-ing" or "-s": a rough part of speech, so the question stays grammatical)
  that the sentence does not hold: "How many soldiers were *wounded* near ...?" against
  "... killing three soldiers near ...", the question about another act or thing than the
  sentence's (SQuAD 2.0's "impossible condition" and word swaps); labelled ``None``. Taught
  with the reader anchored to an earlier one by distillation (``eval/train/reader.py
  --teacher``), so that questions in other words than their sentence, which are not in this
  kind, stay answerable as the earlier reader read them.
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from dataclasses import dataclass

from eval.squad import SquadArticle, contains_answer
from index.split import split_sentences
from index.text import stem, tokenize

_YEAR = re.compile(r"^(1[0-9]{3}|20[0-9]{2})s?$")
_ANTONYM_PAIRS = (
    "large small", "largest smallest", "larger smaller", "high low", "highest lowest",
    "higher lower", "first last", "before after", "earliest latest", "earlier later",
    "increase decrease", "increased decreased", "most least", "more fewer", "north south",
    "northern southern", "east west", "eastern western", "won lost", "win lose", "began ended",
    "oldest newest", "older younger", "best worst", "longest shortest", "longer shorter",
    "maximum minimum", "major minor", "positive negative", "rose fell", "rise fall",
    "accepted rejected", "upper lower", "inside outside", "above below", "private public",
    "male female", "strongest weakest", "richest poorest", "fastest slowest", "success failure",
    "successful unsuccessful", "legal illegal", "supported opposed", "support oppose",
    "internal external", "entered left", "allowed banned", "open closed", "top bottom",
)
_ANTONYMS = {a: b for pair in _ANTONYM_PAIRS for a, b in (pair.split(), pair.split()[::-1])}
# a wh-question in the passive: "... was elected ...", "... is taken up by ..."
_PASSIVE_QUESTION = re.compile(r"^((?:what|who|which|where|when|how)\b[^?]*?\b(?:was|were|is|are))\s"
                               r"(?=[a-z]+(?:ed|en|wn)\b)", re.IGNORECASE)
_NEGATION = re.compile(r"\b(not|no|never|n't|neither|nor|without)\b", re.IGNORECASE)


@dataclass(frozen=True)
class ReaderExample:
    """One reader example: question, sentence, answer span or None, and its kind."""
    question: str
    sentence: str
    answer: tuple[int, int] | None  # character span in ``sentence``; None = no answer
    kind: str  # "positive", "low_overlap", "hard_negative", "adversarial", "antonym", "negation"
    # or "word_swap"


# A question is asked "in other words" when its answer sentence holds at most this share of its
# content stems (12 % of the SQuAD v1.1 train questions): what the question encoder's and the
# re-ranker's fits can weight (``--low-overlap``, ``--low-overlap-weight``) and report apart.
LOW_OVERLAP = 0.25


def overlap(question: str, sentence: str) -> float:
    """The share of the question's content stems that ``sentence`` holds (0 when it has none)."""
    q = {t.stem for t in tokenize(question) if t.stem}
    return len(q & {t.stem for t in tokenize(sentence) if t.stem}) / len(q) if q else 0.0


def _kind_of(surface: str) -> str:
    if _YEAR.match(surface):
        return "year"
    if surface[:1].isdigit():
        return "number"
    if surface[:1].isupper():
        return "name"
    return "word"


def _swap(question: str, sentence: str, vocab: dict[str, list[str]], rng: random.Random) -> str | None:
    """``question`` with one name, number or year replaced by another of the same kind from the
    article that ``sentence`` does not contain; None if there is none."""
    sent_lower = sentence.lower()
    toks = [
        t
        for t in tokenize(question)[1:]
        if t.stem and _kind_of(t.surface) != "word" and t.surface.lower() in sent_lower
    ]
    rng.shuffle(toks)
    for t in toks[:3]:
        kind = _kind_of(t.surface)
        options = [w for w in vocab.get(kind, ()) if w.lower() not in sent_lower and w != t.surface]
        if options:
            new = rng.choice(options)
            return question[: t.start] + new + question[t.end :]
    return None


def _ending(word: str) -> str:
    """"ing", "ed", "s" or "" (then the word is not swapped: nouns, verbs and adjectives mix)."""
    for end in ("ing", "ed", "s"):
        if word.endswith(end):
            return end
    return ""


def swap_word(question: str, sentence: str, answer: str, words: dict[str, list[str]],
               rng: random.Random) -> str | None:
    """``question`` with one lower-case content word that the sentence also holds (not in the
    answer) replaced by an article word of the same ending that the sentence does not hold and
    whose stem is not the question's; None if there is none."""
    sent_stems = {t.stem for t in tokenize(sentence) if t.stem}
    answer_stems = {t.stem for t in tokenize(answer) if t.stem}
    q_toks = tokenize(question)
    q_stems = {t.stem for t in q_toks}
    shared = [t for t in q_toks[1:] if t.stem and t.surface.islower() and len(t.surface) > 3
              and _ending(t.surface) and t.stem in sent_stems and t.stem not in answer_stems]
    if not shared:
        return None
    t = rng.choice(shared)
    options = [w for w in words.get(_ending(t.surface), ()) if stem(w) not in sent_stems | q_stems]
    if not options:
        return None
    return question[: t.start] + rng.choice(options) + question[t.end :]


def antonym(question: str, sentence: str) -> str | None:
    """``question`` with one word that the sentence also has replaced by its antonym; None if it
    shares none."""
    sent_words = set(re.findall(r"[a-z]+", sentence.lower()))
    for m in re.finditer(r"[a-z]+", question):  # lower-case words only: never a name
        opposite = _ANTONYMS.get(m.group())
        if opposite and m.group() in sent_words and opposite not in sent_words:
            return question[: m.start()] + opposite + question[m.end() :]
    return None


def negate(question: str, sentence: str) -> str | None:
    """``question`` in the passive negated ("Who was elected ...?" → "Who was not elected
    ...?"); None if it is not one or the sentence holds a negation."""
    m = _PASSIVE_QUESTION.match(question)
    if not m or _NEGATION.search(sentence):
        return None
    return question[: m.end(1)] + " not " + question[m.end() :]


def article_examples(
    article: SquadArticle,
    rng: random.Random,
    hard_negatives: int = 2,
    adversarial_share: float = 0.5,
    max_questions: int | None = None,
    other_adversarial: bool = False,
    word_swaps: float = 0.0,
    low_overlap: float = 0.0,
) -> list[ReaderExample]:
    """The examples of one article's questions (module docstring); ``word_swaps``: the share of
    questions that also get a word-swapped copy; ``low_overlap``: answer sentences holding at
    most this share of their question's content stems are of the kind "low_overlap" (the
    question in other words than its sentence) instead of "positive"."""
    sentences = split_sentences("a", article.text)
    if not sentences:
        return []
    toks = [tokenize(s.text) for s in sentences]
    stems = [{t.stem for t in ts if t.stem} for ts in toks]
    df = Counter(s for ss in stems for s in ss)
    n = len(sentences)
    idf = {s: math.log(1 + n / c) for s, c in df.items()}
    vocab: dict[str, list[str]] = {}
    for ts in toks:
        for t in ts:
            if t.stem:
                vocab.setdefault(_kind_of(t.surface), []).append(t.surface)
    vocab = {k: sorted(set(v)) for k, v in vocab.items()}
    words: dict[str, list[str]] = {}
    for w in sorted({t.surface for ts in toks for t in ts if t.stem and t.surface.isalpha()
                     and t.surface.islower() and len(t.surface) > 3}):
        words.setdefault(_ending(w), []).append(w)

    out: list[ReaderExample] = []
    questions = list(article.questions)
    rng.shuffle(questions)
    for q in questions[:max_questions]:
        if q.impossible or not q.answers:
            continue
        lo, hi = article.paragraph_spans[q.paragraph]
        answer = q.answers[0]
        pos = article.text.find(answer, lo, hi)
        if pos < 0:
            continue
        gold = [i for i, s in enumerate(sentences) if s.start <= pos and pos + len(answer) <= s.end]
        if not gold:
            continue  # the answer crosses a sentence boundary
        g = gold[0]
        sent = sentences[g]
        low = low_overlap > 0 and overlap(q.question, sent.text) <= low_overlap
        out.append(ReaderExample(q.question, sent.text, (pos - sent.start, pos - sent.start + len(answer)),
                                 "low_overlap" if low else "positive"))
        q_stems = {t.stem for t in tokenize(q.question) if t.stem}
        scored = sorted((-sum(idf.get(s, 0.0) for s in q_stems & stems[i]), i) for i in range(n) if i != g)
        taken = 0
        for _, i in scored:
            if taken == hard_negatives:
                break
            if not contains_answer(sentences[i].text, q.answers):
                out.append(ReaderExample(q.question, sentences[i].text, None, "hard_negative"))
                taken += 1
        if rng.random() < adversarial_share:
            swapped = _swap(q.question, sent.text, vocab, rng)
            if swapped:
                out.append(ReaderExample(swapped, sent.text, None, "adversarial"))
        if other_adversarial:
            for kind, changed in (("antonym", antonym(q.question, sent.text)),
                                  ("negation", negate(q.question, sent.text))):
                if changed:  # every one the rules can make (rare: 2 % of the examples)
                    out.append(ReaderExample(changed, sent.text, None, kind))
        if word_swaps and rng.random() < word_swaps:
            changed = swap_word(q.question, sent.text, answer, words, rng)
            if changed:
                out.append(ReaderExample(changed, sent.text, None, "word_swap"))
    return out
