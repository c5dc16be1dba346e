"""HTML for the browser: the article with cited spans highlighted, and the sources list.

Every piece of article text, title, file name and question passes through ``html.escape``:
an article that carries ``<script>`` or ``onerror=`` is shown as text, never run.
"""

from __future__ import annotations

import html
import re

from qa.types import Answer, Citation


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _marked(text: str, start: int, end: int, short: Citation | None) -> str:
    """``text[start:end]`` escaped, with the short answer's characters in bold when inside."""
    if short is None or not (start <= short.start and short.end <= end):
        return _esc(text[start:end])
    return (
        f"{_esc(text[start:short.start])}"
        f'<strong class="qa-short" id="qa-short" title="short answer, characters {short.start}–{short.end}">'
        f"{_esc(text[short.start:short.end])}</strong>{_esc(text[short.end:end])}"
    )


def article_html(
    title: str, text: str, citations: list[Citation], related: bool = False, short: Citation | None = None
) -> str:
    """The article text with each citation's exact characters wrapped in a numbered ``<mark>``,
    and the short answer (when given) in bold inside its citation's mark.

    Overlapping citations are merged into one mark that names every citation it carries."""
    spans = sorted((c.start, c.end, n) for n, c in enumerate(citations, 1))
    merged: list[list] = []
    for start, end, n in spans:
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
            merged[-1][2].append(n)
        else:
            merged.append([start, end, [n]])
    kind = "related" if related else "cite"
    out, cursor = [], 0
    for start, end, numbers in merged:
        out.append(_esc(text[cursor:start]))
        label = ",".join(str(n) for n in numbers)
        out.append(
            f'<mark class="qa-{kind}" id="qa-cite-{numbers[0]}" data-cite="{label}" '
            f'title="[{label}] characters {start}–{end}">'
            f'<sup class="qa-marker">[{label}]</sup>{_marked(text, start, end, short)}</mark>'
        )
        cursor = end
    out.append(_esc(text[cursor:]))
    return (
        f'<div class="qa-article"><h3 class="qa-title">{_esc(title)}</h3>'
        f'<div class="qa-text">{"".join(out)}</div></div>'
    )


def sources_html(answer: Answer | None, doc_titles: dict[str, str],
                 doc_urls: dict[str, str] | None = None) -> str:
    """The sources panel: each citation (or related passage) with its document (and the URL it
    was fetched from, as text), its page when it has one, offsets and quote, escaped.
    """
    if answer is None:
        return '<div class="qa-sources qa-empty">Sources of the answer appear here.</div>'
    items = answer.related if answer.abstained else answer.citations
    head = "Related passages — shown for reading, <b>not</b> as support" if answer.abstained else "Sources"
    rows = []
    for n, c in enumerate(items, 1):
        title = doc_titles.get(c.doc_id, c.doc_id)
        rows.append(
            f'<li class="qa-source" data-cite="{n}"><span class="qa-num">[{n}]</span> '
            f'<q>{_esc(" ".join(c.quote.split()))}</q><div class="qa-meta">{_esc(title)} · '
            + (f"{_esc(doc_urls[c.doc_id])} · " if c.doc_id in (doc_urls or {}) else "")
            + (f"page {c.page} · " if c.page else "")
            + f"characters {c.start}–{c.end} · score {c.score:.2f}</div></li>"
        )
    kind = "qa-related-list" if answer.abstained else "qa-cite-list"
    lead = ""
    if answer.short is not None and not answer.abstained:
        lead = (
            f'<div class="qa-short-answer">Answer: <b id="qa-short-text">{_esc(answer.short.quote)}</b> '
            f'<span class="qa-num">[1]</span></div>'
        )
    return (
        f'<div class="qa-sources {kind}">{lead}<div class="qa-head">{head}</div>'
        f'<ol>{"".join(rows)}</ol></div>'
    )


def chat_text(answer: Answer) -> str:
    """The assistant's chat message, escaped: Gradio's chatbot renders HTML even without
    Markdown, and the quote the user reads must be the characters cited, ``<b>`` and all."""
    note = " — below the threshold, so no answer." if answer.abstained else ""
    return _esc(f"{answer.text}\n\nConfidence {answer.confidence:.2f}{note}")


def chat_question(question: str) -> str:
    """The user's chat message, escaped as the answer's is."""
    return _esc(question)


def guide_html(guide, title: str) -> str:
    """The guide panel (``qa.guide.ArticleGuide`` or None): the summary sentences with their
    offsets and the names the article uses, escaped."""
    if guide is None:
        return '<div class="qa-guide qa-empty">Choose an article to see its guide.</div>'
    items = "".join(f'<li class="qa-guide-sum" data-guide="summary-{i}" data-start="{c.start}" '
                    f'data-end="{c.end}" title="show it in the article">'
                    f"{_esc(' '.join(c.quote.split()))}</li>" for i, c in enumerate(guide.summary))
    chips = "".join(f'<span class="qa-chip" data-guide="name-{i}" title="{_esc(n.kind)}, '
                    f'{len(n.mentions)} mentions: show them in the article">{_esc(n.name)}</span>'
                    for i, n in enumerate(guide.names))
    return (f'<div class="qa-guide"><div class="qa-guide-head">In brief: {_esc(title)}</div>'
            f'<ol class="qa-guide-summary">{items}</ol><div class="qa-guide-names">{chips}</div></div>')


def status_html(notes: list[tuple[str, str]]) -> str:
    """Library messages: ``("ok" | "error", text)`` pairs, text escaped."""
    items = "".join(f'<div class="qa-note qa-{kind}">{_esc(text)}</div>' for kind, text in notes)
    return f'<div class="qa-notes">{items}</div>'


CSS = """
.qa-guide-summary { margin: 0.3em 0 0.5em 1.2em; font-size: 0.92em; }
.qa-chip, .qa-guide-sum { cursor: pointer; }
.qa-chip { display: inline-block; margin: 2px 4px 2px 0; padding: 1px 8px; border-radius: 10px;
  background: var(--block-background-fill, #eef); border: 1px solid var(--border-color-primary, #ccd);
  font-size: 0.85em; }
.qa-note { padding: 0.35rem 0.6rem; margin: 0.25rem 0; border-radius: 4px; overflow-wrap: anywhere; }
.qa-ok { background: #e7f6ea; color: #1c5b2a; border-left: 3px solid #3a9a50; }
.qa-error { background: #fdecec; color: #7a1f1f; border-left: 3px solid #c43c3c; }
.qa-article { max-height: 70vh; overflow-y: auto; padding: 0.25rem 1rem 1rem 1rem;
  border: 1px solid var(--border-color-primary); border-radius: 8px;
  background: var(--background-fill-primary); }
.qa-title { margin: 0.6rem 0; }
.qa-text { white-space: pre-wrap; overflow-wrap: anywhere; line-height: 1.6; font-size: 0.95rem; }
mark.qa-cite { background: #fff1a8; color: #1a1a1a; border-radius: 3px; padding: 0 1px;
  box-shadow: 0 0 0 1px #e6c200; }
mark.qa-related { background: #e4ecf7; color: #1a1a1a; border-radius: 3px;
  box-shadow: 0 0 0 1px #9db4d6; }
mark.qa-cite.qa-selected { background: #ffd95a; box-shadow: 0 0 0 2px #c99700; }
mark.qa-related.qa-selected { background: #cfdcf0; box-shadow: 0 0 0 2px #5d7fb3; }
.qa-related-list .qa-source { border-left-color: #9db4d6; }
.qa-marker { color: #7a5c00; font-weight: 600; margin-right: 2px; }
.qa-sources ol { padding-left: 0; list-style: none; margin: 0; }
.qa-source { margin: 0.4rem 0; padding: 0.4rem 0.6rem; border-left: 3px solid #e6c200;
  background: var(--background-fill-secondary); border-radius: 4px; overflow-wrap: anywhere; }
.qa-num { font-weight: 700; }
strong.qa-short { font-weight: 800; text-decoration: underline; text-decoration-color: #c99700;
  text-decoration-thickness: 2px; }
.qa-short-answer { font-size: 1.05rem; margin-bottom: 0.5rem; }
.qa-meta { font-size: 0.8rem; opacity: 0.75; margin-top: 0.2rem; }
.qa-head { font-weight: 600; margin-bottom: 0.3rem; }
.qa-empty { opacity: 0.6; }
"""

# The guide panel reports which item was clicked (``data-guide``); the server then shows its
# citations in the article pane. Delegated: the panel's content is replaced when the scope changes.
GUIDE_CLICK_JS = """element.addEventListener('click', (e) => {
  const item = e.target.closest('[data-guide]');
  if (item) trigger('click', {item: item.dataset.guide});
});"""

SCROLL_JS = """() => {
  const mark = document.getElementById('qa-cite-1') || document.querySelector('#qa-article mark');
  document.querySelectorAll('#qa-article mark.qa-selected').forEach(m => m.classList.remove('qa-selected'));
  if (mark) { mark.classList.add('qa-selected'); mark.scrollIntoView({block: 'center', behavior: 'smooth'}); }
}"""


def safe_name(name: str) -> str:
    """A display name for an uploaded file: no directories, no control characters."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip(". ")
    return base[:120] or "upload"
