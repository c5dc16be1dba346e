"""(Over 400 lines: QAService is the one object of the Python API; its constructors, documents and
answering path share the models and the index it holds. Kinds, definitions and explanations
live in qa/kinds.py, qa/define.py, qa/explain.py.)

The Python API: ``QAService`` answers questions about indexed articles with exact citations."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from index import settings
from index.config import Config
from index.errors import (
    EmptyIndexError,
    IndexNotFoundError,
    InvalidQuestionError,
    OutdatedIndexError,
    QAError,
)
from index.loaders import ACCEPTED_SUFFIXES, LoadedArticle, is_url, load_bytes, load_path, load_url
from index.store import ArticleIndex, DocumentRecord
from index.units import ArticleDetails
from qa.abstain import ABSTAIN_FEATURES, abstention_features
from qa.answer import compose, defined_span, short_answer
from qa.batching import MicroBatcher
from qa.define import defined_candidate
from qa.explain import EXPLAIN_FEATURES, explained_probs, shifted_threshold
from qa.features import FEATURES
from qa.followup import resolve
from qa.guide import ArticleGuide, guide_of
from qa.inputs import clean_history, clean_question
from qa.kinds import EXPLANATION_KINDS, question_kind
from qa.models import MODEL_DIR, ScoringModel, load_model
from qa.qencoder import load_question_encoder
from qa.reader import Reader, load_reader
from qa.rerank import (
    FINAL_FEATURES,
    READER_ABSTAIN_FEATURES,
    ReadCandidates,
    as_if_read,
    final_probs,
    read_top,
    reader_abstain_features,
)
from qa.retrieve import Candidates, retrieve
from qa.types import Answer

log = logging.getLogger("qa")


def _seed_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.glob("*") if p.suffix.lower() in ACCEPTED_SUFFIXES)
    if not files:
        raise QAError(f"no seed articles ({', '.join(ACCEPTED_SUFFIXES)}) in {folder}")
    return files


@dataclass(frozen=True)
class Scored:
    """The scores of one question's candidates: the re-ranker's, the final ones (after the
    reader, where it read), what the reader found, and the calibrated confidence."""

    rerank: np.ndarray
    final: np.ndarray
    read: ReadCandidates | None
    confidence: float
    features: dict[str, float] = field(default_factory=dict)  # the abstention model's input
    kind: str = "other"  # qa.kinds.question_kind of the question
    threshold: float = 0.5  # the confidence below which the engine abstains
    # a definition question's apposition: (candidate position, start, end in its sentence)
    defined: tuple[int, int, int] | None = None


ABSTAIN_WITH_READER = ABSTAIN_FEATURES + READER_ABSTAIN_FEATURES


class QAService:
    """Grounded question answering over a set of articles: the Python API that the CLI, the
    UI, the REST API and the LlamaIndex integration are thin layers over."""

    #: the article file types :meth:`add_file` and :meth:`load_upload` read
    accepted_suffixes: tuple[str, ...] = ACCEPTED_SUFFIXES
    #: whether :meth:`load_url` may fetch from loopback, private and link-local addresses
    #: (``$QA_ALLOW_PRIVATE_URLS``, ``--allow-private-urls``; default: refused)
    allow_private_urls: bool = False

    def __init__(
        self,
        index: ArticleIndex | None = None,
        config: Config | None = None,
        reranker: ScoringModel | None = None,
        abstainer: ScoringModel | None = None,
        reader: Reader | None = None,
        final: ScoringModel | None = None,
        reader_top_k: int | None = None,
        overrides: Mapping[str, object] | None = None,
    ) -> None:
        """``overrides`` replace answering settings of the library's ``Config`` for this
        service only (e.g. ``{"reader_first_k": 4}``); ``reader_top_k=0`` is short for
        answering without the reading model, as before it existed."""
        self.index = index or ArticleIndex(config)
        self.config = self.index.config
        self.allow_private_urls = settings.allow_private_urls()
        self._guides: dict = {}  # (text hash, encoder) -> ArticleGuide (qa/guide.py)
        changes = dict(overrides or {})
        if reader_top_k is not None:
            changes["reader_top_k"] = reader_top_k
        if changes:
            self.config = replace(self.config, **changes)
        self.reranker = reranker or load_model("reranker", FEATURES)
        self.reader: Reader | None = None
        self.final: ScoringModel | None = None
        if self.config.reader_top_k > 0:
            # Loaded here, not in a background thread: transformers' lazy imports are not safe
            # while another thread imports it (seen: "cannot import name 'AutoTokenizer'").
            self.reader = reader or load_reader(precision=self.config.reader_precision)
            self.final = final or load_model("final", FINAL_FEATURES)
            self.abstainer = abstainer or load_model("abstainer", ABSTAIN_WITH_READER)
        else:  # the engine without its reading model (for comparison, or the fastest answers)
            self.abstainer = abstainer or load_model("abstainer-lexical", ABSTAIN_FEATURES)
        self.threshold = (
            self.config.abstain_threshold
            if self.config.abstain_threshold is not None
            else float(self.abstainer.info.get("threshold", 0.5))
        )
        # why/how questions: their abstention threshold shift, and (Config.explain_read_k > 0)
        # their ranking, from qa/models/explain.json (None: as every other question)
        self.explainer: ScoringModel | None = None
        if self.reader is not None and (MODEL_DIR / "explain.json").exists():
            self.explainer = load_model("explain", EXPLAIN_FEATURES)
        # loaded here, not on the first question; None: questions are embedded by the index's
        # embedder, looked up per call (so a swapped index embedder is honoured)
        self.question_encoder = (load_question_encoder(precision=self.config.question_encoder_precision)
                                 if self.config.question_encoder else None)
        # Questions asked at the same time (threads) share model calls (qa/batching.py); the
        # reader's unless Config.reader_share_passes is false (one ask's sentences a call).
        wait = self.config.batch_wait_ms / 1000
        self._embed_batch: MicroBatcher[str, np.ndarray] = MicroBatcher(
            lambda qs: list(self.embed_questions(qs)), self.config.batch_max, wait)
        self._read_batch: MicroBatcher[tuple[str, list[str]], list] = MicroBatcher(
            lambda items: self.reader.read_many(items),
            self.config.batch_max if self.config.reader_share_passes else 1, wait)

    def embed_questions(self, questions: list[str]) -> np.ndarray:
        """Unit vectors of ``questions`` as this service searches with them: from the question
        encoder (``Config.question_encoder``; each question in a pass of its own when
        ``Config.reader_share_passes`` is false), else from the library's own model. The encoder
        loaded at start is used as is: no model look-up on the path of every question."""
        if self.question_encoder is None:
            return self.index.embedder.encode(questions)
        return self.question_encoder.encode(questions, together=self.config.reader_share_passes)

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def from_texts(cls, texts: Mapping[str, str], config: Config | None = None) -> QAService:
        """A service over the texts given, in memory (nothing is written until :meth:`save`).

        :param texts: document id → text.
        :raises InvalidDocumentError: a text that is empty, too long or has nothing citable.
        """
        svc = cls(config=config)
        for doc_id, text in texts.items():
            svc.add_document(text, doc_id=doc_id)
        return svc

    @classmethod
    def from_seeds(cls, directory: str | os.PathLike[str] | None = None) -> QAService:
        """The bundled articles; the index is built once and cached on disk by content hash."""
        folder = Path(directory) if directory else settings.seeds_dir()
        files = _seed_files(folder)
        digest = hashlib.sha256(Config().to_json().encode())
        for f in files:
            digest.update(f.name.encode() + b"\0" + f.read_bytes())
        cached = settings.cache_dir() / f"seeds-{digest.hexdigest()[:16]}"
        if cached.exists():
            try:  # detached: callers may change it without touching the shared cache
                return cls(ArticleIndex.open(cached).detach())
            except QAError as exc:
                log.warning("seed cache %s unusable (%s); made again", cached.name, exc)
                shutil.rmtree(cached, ignore_errors=True)
        svc = cls()
        for f in files:
            svc.add_file(f, doc_id=f.stem)
        try:
            svc.save(cached)
        except QAError as exc:  # e.g. another process made it meanwhile: this one is kept in memory
            log.info("seed cache %s not written (%s)", cached.name, exc)
        svc.index.detach()
        return svc

    @classmethod
    def create(cls, path: str | os.PathLike[str], config: Config | None = None) -> QAService:
        """A new, empty library at ``path``, e.g. ``Config(vector_uri="http://milvus:19530")``."""
        return cls(ArticleIndex.create(path, config))

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> QAService:
        """The library saved at ``path``, opened without re-embedding anything.

        :raises IndexNotFoundError: no library there.
        :raises CorruptIndexError: a store that cannot be read (``qa index rebuild`` repairs it).
        """
        return cls(ArticleIndex.open(path))

    @classmethod
    def open_library(cls, path: str | os.PathLike[str], vector_uri: str | None = None) -> QAService:
        """The library saved at ``path``; a missing or empty directory starts from the seeds.
        A directory holding anything else (a broken index) is reported, never overwritten.

        ``vector_uri`` (default ``$QA_VECTOR_URI``) chooses where a *new* library keeps its
        vectors: unset for FAISS, ``milvus.db`` for Milvus Lite, ``http://host:19530`` for a
        Milvus server; an existing library keeps what its config.json says."""
        path = Path(path)
        try:
            return cls.open(path)
        except OutdatedIndexError:  # a library from an earlier version: re-made from its texts
            log.warning("%s is a library of an earlier version: upgrading it from its stored texts",
                        path.name)
            ArticleIndex.rebuild(path)
            return cls.open(path)
        except IndexNotFoundError:
            if path.exists() and (not path.is_dir() or any(path.iterdir())):
                raise  # a file, or a directory holding something else: never overwritten
        uri = settings.vector_uri() if vector_uri is None else vector_uri
        if not uri:
            svc = cls.from_seeds()
        else:
            svc = cls.create(path, Config(vector_uri=uri))
            for f in _seed_files(settings.seeds_dir()):
                svc.add_file(f, doc_id=f.stem)
        svc.save(path)  # an index in memory (the seeds) is bound to the new library
        names = ", ".join(d.doc_id for d in svc.documents())
        log.warning("new library at %s, seeded with the bundled article(s): %s", path, names)
        return svc

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Refresh the library's derived files (no path: where it was opened), or write an
        index held in memory as a new library at ``path``. Adds and removes of a library
        opened from disk are durable without it."""
        return self.index.save(path)

    # -- documents ---------------------------------------------------------------------------
    def add_document(
        self, text: str, doc_id: str | None = None, title: str | None = None, source: str = "",
        details: ArticleDetails | None = None,
    ) -> str:
        """Add one article; in a library opened from disk, durable when this returns.

        :param doc_id: default: a hash of the text (adding the same text again is a no-op).
        :param title: default: the article's first sentence.
        :param details: the author and date its page gave (kept with it, see :meth:`details`).
        :returns: the article's id.
        :raises InvalidDocumentError: bad text, id or title (nothing is added).
        :raises StorageError: the library could not be written (nothing is added).
        """
        return self.index.add_document(text, doc_id=doc_id, title=title, source=source,
                                       details=details)

    def details(self, doc_id: str) -> ArticleDetails:
        """The author and publication date the article's web page gave (empty when none).

        :raises UnknownDocumentError: no article with this id.
        """
        return self.index.details(doc_id)

    def load_upload(self, data: bytes, name: str) -> LoadedArticle:
        """Read an uploaded file's bytes into an article (text, title, source) without adding
        it; ``name`` picks the format (.txt, .md, .html, .pdf).

        :raises InvalidDocumentError: too large (``Config.max_file_bytes``), empty, binary,
            not UTF-8, an unsupported type, or HTML with no article text.
        """
        return load_bytes(data, name, self.config.max_file_bytes)

    def load_url(self, url: str) -> LoadedArticle:
        """Fetch an article by its URL without adding it (``index/fetch.py``: http(s) only,
        public addresses only unless :attr:`allow_private_urls`, time-outs, at most
        ``Config.max_file_bytes``); a web page is reduced to its main text, with its title,
        author and date; the source is the URL.

        :raises FetchError: not fetched; the one-line message names the rule or the failure.
        :raises InvalidDocumentError: no article text in what was fetched.
        """
        return load_url(url, self.config.max_file_bytes, self.allow_private_urls)

    def add_file(self, path: str | os.PathLike[str], doc_id: str | None = None) -> str:
        """Add an article file (.txt, .md, .html, .pdf; HTML reduced to its main text, a PDF
        to its text layer) or, for a ``http(s)://`` argument, the article at that URL.

        :returns: the article's id.
        :raises InvalidDocumentError: a missing, unreadable, too large or unsupported file.
        """
        article = self._load(path)
        return self.add_document(article.text, doc_id=doc_id, title=article.title or None,
                                 source=article.source, details=article.details)

    def add_files(self, paths: Sequence[str | os.PathLike[str]], doc_id: str | None = None
                  ) -> list[tuple[str, bool]]:
        """Add several files or URLs in one transaction (every one is read first: a bad one adds
        nothing). Returns each one's (doc_id, whether it is new)."""
        articles = [self._load(p) for p in paths]
        before = set(self.index.documents)
        ids = self.index.add_documents([(a.text, doc_id, a.title or None, a.source, a.details)
                                        for a in articles])
        return [(i, i not in before) for i in ids]

    def _load(self, path: str | os.PathLike[str]) -> LoadedArticle:
        if isinstance(path, str) and is_url(path):
            return self.load_url(path)
        return load_path(path, self.config.max_file_bytes)

    def guide(self, doc_id: str) -> ArticleGuide:
        """The article's guide (``qa/guide.py``): its three most central sentences, the names
        it uses with every mention, and questions the engine answered from the sentence each was
        made from; every item a :class:`Citation`. Made once per text and kept.

        :raises UnknownDocumentError: no article with this id.
        """
        return guide_of(self, doc_id, self._guides)

    def remove_document(self, doc_id: str) -> None:
        """Remove an article; in a library opened from disk, durable when this returns.

        :raises UnknownDocumentError: no article with this id.
        """
        self.index.remove_document(doc_id)

    def document_text(self, doc_id: str) -> str:
        """The text of article ``doc_id``, which citation offsets index into.

        :raises UnknownDocumentError: no article with this id.
        """
        self.index.refresh()
        return self.index.document_text(doc_id)

    def documents(self) -> list[DocumentRecord]:
        """The articles of the library now (other processes' changes included), oldest first."""
        self.index.refresh()
        return list(self.index.documents.values())

    # -- questions ---------------------------------------------------------------------------
    def ask(
        self,
        question: str,
        history: Sequence[tuple[str, str]] | None = None,
        doc_ids: Iterable[str] | None = None,
    ) -> Answer:
        """Answer ``question`` from the indexed articles (or only ``doc_ids``), citing each
        sentence; abstain when the confidence is below the configured threshold."""
        t0 = time.perf_counter()
        question = clean_question(question, self.config.max_question_chars)
        turns = clean_history(history, self.config.max_question_chars)
        self.index.refresh()  # another process may have changed the library
        selected = None
        if doc_ids is not None:
            if isinstance(doc_ids, str | bytes) or not isinstance(doc_ids, Iterable):
                raise InvalidQuestionError("doc_ids must be a list of document ids")
            selected = set()
            for d in doc_ids:
                if not isinstance(d, str):
                    raise InvalidQuestionError("doc_ids must be a list of document ids (text)")
                selected.add(self.index.get_document(d).doc_id)
            if not selected:
                raise InvalidQuestionError("doc_ids is empty: give at least one article id, or "
                                           "leave doc_ids out to ask every article")
        query = resolve(question, turns)
        if not self.index.live_sentences or (selected is not None and not selected):
            raise EmptyIndexError("no articles to ask: add an article first")
        with self._embed_batch.active(), self._read_batch.active():
            return self._answer(t0, question, query, selected)

    def _answer(self, t0: float, question: str, query: str, selected: set[str] | None) -> Answer:
        vector = self._embed_batch(query)
        t1 = time.perf_counter()
        # The index's lock is held to find the candidates and to compose the answer, not while
        # the models read them: questions run side by side (the reader is most of an ask). If an
        # article was removed meanwhile, the question is retrieved again (at the last try, all
        # under the lock).
        for attempt in range(4):
            with self.index.lock:
                epoch = self.index.epoch
                cands = retrieve(self.index, vector, query, selected)
                texts = [self.index.sentences[int(r)].text for r in cands.rows]
            t2 = time.perf_counter()
            scored = self.score(query, cands, texts)
            with self.index.lock:
                rows = np.asarray(cands.rows, dtype=np.int64)
                if self.index.epoch != epoch or not self.index.all_live(rows):
                    if attempt < 3:
                        continue
                    cands = retrieve(self.index, vector, query, selected)
                    scored = self.score(query, cands)
                abstained = scored.confidence < scored.threshold or not len(cands.rows)
                short = None
                if not abstained and scored.defined is not None:
                    short = defined_span(self.index, cands.rows, scored.defined)
                elif not abstained and scored.read is not None:
                    short = short_answer(self.index, cands.rows, scored.final, scored.read, query,
                                         self.config, scored.kind)
                text, citations, related = compose(
                    self.index, cands.rows, scored.final, abstained, self.config, short
                )
            break
        t3 = time.perf_counter()
        return Answer(
            question=question,
            text=text,
            abstained=abstained,
            confidence=round(scored.confidence, 4),
            citations=citations,
            related=related,
            resolved_question=query,
            short=short,
            kind=scored.kind,
            timings_ms={
                "embed": (t1 - t0) * 1000,
                "retrieve": (t2 - t1) * 1000,
                "read": (t3 - t2) * 1000,
            },
        )

    def score(self, question: str, cands: Candidates, texts: Sequence[str] | None = None) -> Scored:
        """Re-ranker probability per candidate; the reader's reading of the best
        ``config.reader_top_k`` of them and the final scores; the calibrated confidence. A why
        or how question has the explanation model's abstention threshold, and with
        ``config.explain_read_k`` its best candidates read and ranked by that model (its
        confidence is the one the usual reading gives).
        ``texts``: the candidates' sentences, read beforehand (else from the index)."""
        kind = question_kind(question)
        if not len(cands.rows):
            return Scored(np.zeros(0), np.zeros(0), None, 0.0, kind=kind, threshold=self.threshold)
        probs = self.reranker.predict(cands.features)
        feats = abstention_features(cands, probs)
        if self.reader is None or self.final is None:
            conf = self.abstainer.predict(np.asarray([[feats[n] for n in ABSTAIN_FEATURES]]))
            return Scored(probs, probs, None, float(conf[0]), feats, kind, self.threshold)
        if texts is None:
            texts = [self.index.sentences[int(r)].text for r in cands.rows]
        cfg = self.config
        why_how = self.explainer is not None and kind in EXPLANATION_KINDS
        explain = why_how and cfg.explain_read_k > 0
        first_k = max(cfg.explain_read_k, cfg.reader_first_k) if explain else cfg.reader_first_k
        read = read_top(_Batched(self._read_batch), question, lambda i: texts[i], probs,
                        max(cfg.reader_top_k, first_k), first_k, cfg.reader_more_below)
        usual = (as_if_read(read, cfg.reader_top_k, cfg.reader_first_k, cfg.reader_more_below)
                 if explain else read)
        final = final_probs(probs, usual, self.final.predict(usual.features))
        conf = self.confidence(feats, final, usual)
        if kind == "definition":
            defined = defined_candidate(question, texts, final)
            if defined is not None:  # an answer, not a refusal (qa/define.py)
                final, position, lo, hi = defined
                conf = max(conf, self.threshold)
                return Scored(probs, final, read, conf, feats, kind, self.threshold, (position, lo, hi))
            return Scored(probs, final, read, conf, feats, kind, self.threshold)
        threshold = shifted_threshold(self.threshold, self.explainer) if why_how else self.threshold
        if not explain:
            return Scored(probs, final, read, conf, feats, kind, threshold)
        ranked = explained_probs(self.explainer, self.final, kind, cands.question.stems, texts, probs, read)
        return Scored(probs, ranked, read, conf, feats, kind, threshold)

    def confidence(self, feats: dict[str, float], final: np.ndarray, read: ReadCandidates) -> float:
        """The abstention model's probability that the article answers, from the question-level
        features ``feats`` (updated in place with the reader's) and the final scores."""
        feats.update(reader_abstain_features(final, read))
        return float(self.abstainer.predict(np.asarray([[feats[n] for n in ABSTAIN_WITH_READER]]))[0])


class _Batched:
    """A reader whose reads go through a :class:`MicroBatcher` (what ``read_top`` calls)."""

    def __init__(self, batcher: MicroBatcher) -> None:
        self._batcher = batcher

    def read(self, question: str, sentences: list[str]) -> list:
        return self._batcher((question, sentences)) if sentences else []
