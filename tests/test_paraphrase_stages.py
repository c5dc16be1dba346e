"""``eval.paraphrase_stages``: the gold sentence's rank by each stage, on the seed article."""

from __future__ import annotations

from eval.paraphrase_stages import stage_ranks

ROCKETS = {"question": "How many rockets did Hamas fire on Sunday?",
           "evidence": "On Sunday, Hamas fired about 10 rockets"}


def test_a_question_in_the_articles_words_is_first_for_every_stage(seed_service):
    r = stage_ranks(seed_service, [ROCKETS])
    assert r.reranker == [0] and r.reader_all == [0] and r.reader_top5_hit == [True]


def test_evidence_in_no_sentence_is_ranked_past_the_last(seed_service):
    n = len(seed_service.index.sentences)
    r = stage_ranks(seed_service, [{**ROCKETS, "evidence": "The harbour crane lifted 40 boxes"}])
    assert r.reranker == [n] and r.reader_all == [n] and r.reader_top5_hit == [False]
