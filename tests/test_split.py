"""Sentence and passage splitting on the seed article: exact boundaries and offsets."""

from __future__ import annotations

from index.clean import boilerplate_spans, content_spans
from index.split import make_passages, split_sentences


def test_every_sentence_is_an_exact_slice(seed_text):
    sentences = split_sentences("d", seed_text)
    assert len(sentences) == 35
    for s in sentences:
        assert seed_text[s.start : s.end] == s.text
        assert s.text == s.text.strip()


def test_abbreviations_and_quotes_do_not_break_sentences(seed_text):
    texts = [s.text for s in split_sentences("d", seed_text)]
    assert (
        "Two U.S. officials, who spoke on condition of anonymity, rejected the idea that the "
        "talks were at an impasse, suggesting that the sides were still reviewing details of "
        "the most recent proposals." in texts
    )
    assert "“The ceasefire must be permanent and fixed,” he said." in texts
    assert any(t.startswith("Mr. Abu Marzouk was the only one") for t in texts)


def test_lowercase_fragment_is_joined_to_its_sentence(seed_text):
    texts = [s.text for s in split_sentences("d", seed_text)]
    joined = [t for t in texts if "Israeli forces won. do not enter the city." in t]
    assert len(joined) == 1 and joined[0].startswith("The Israeli official who spoke")


def test_comment_form_is_boilerplate_and_never_split(seed_text):
    start = seed_text.index("Leave a Reply")
    assert boilerplate_spans(seed_text) == [(start, len(seed_text))]
    assert content_spans(seed_text)[-1][1] == start
    sentences = split_sentences("d", seed_text)
    assert all(s.end <= start for s in sentences)
    assert sentences[-1].text == "Peter Baker AND Michael Crowley contributed reporting to this article."


def test_boilerplate_lines_inside_text_are_skipped():
    text = "Skip to content\nThe mayor resigned on Monday.\nAdvertisement\nShe cited health reasons."
    assert [s.text for s in split_sentences("d", text)] == [
        "The mayor resigned on Monday.",
        "She cited health reasons.",
    ]


def test_markdown_markers_are_not_part_of_the_sentence():
    text = "# Storm hits coast\n\n- Power was cut to 10,000 homes.\n> Officials urged calm."
    sentences = split_sentences("d", text)
    assert [s.text for s in sentences] == [
        "Storm hits coast",
        "Power was cut to 10,000 homes.",
        "Officials urged calm.",
    ]
    assert [(s.start, s.end) for s in sentences] == [(2, 18), (22, 52), (55, 76)]


def test_passages_are_overlapping_windows(seed_text):
    sentences = split_sentences("d", seed_text)
    passages = make_passages(sentences, seed_text, size=3, overlap=1)
    assert [(p.first_sentence, p.last_sentence) for p in passages[:3]] == [(0, 2), (2, 4), (4, 6)]
    assert passages[-1].last_sentence == len(sentences) - 1
    for p in passages:
        assert seed_text[p.start : p.end] == p.text
        assert p.start == sentences[p.first_sentence].start
        assert p.end == sentences[p.last_sentence].end
