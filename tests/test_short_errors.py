"""eval.short_errors: how a short answer misses its gold, on answers the split really gave."""

from eval.short_errors import miss_kind, tally


def test_each_kind_of_miss_is_told_apart():
    assert miss_kind("the Rhine", ["Rhine"]) == "exact"  # articles go in SQuAD normalisation
    assert miss_kind("515 million years ago", ["515 million years", "66 million years ago"]) == "too long"
    assert miss_kind("Bowman", ["Isiah Bowman"]) == "too short"
    assert miss_kind("Northern Chinese", ["Southern", "Southern Chinese"]) == "overlap"
    assert miss_kind("the sieve of Eratosthenes", ["arithmetic"]) == "other phrase"
    assert miss_kind("art smarts", ["art smart"]) == "overlap"  # whole words, not characters
    assert miss_kind(None, ["Isiah Bowman"]) == "no short"


def test_tally_splits_by_whether_the_first_citation_holds_the_answer_and_skips_refusals():
    def record(quote, short, answerable=True, abstained=False):
        return {"answerable": answerable, "abstained": abstained, "short": short,
                "gold_answers": ["Isiah Bowman"], "evidence": [{"quote": quote}]}

    right = "The geographer Isiah Bowman advised the president."
    wrong = "The president took advice from many geographers."
    kinds = tally([
        record(right, "Isiah Bowman"),
        record(right, "Bowman"),
        record(wrong, "many geographers"),
        record(right, "Bowman", abstained=True),
        record(right, None, answerable=False),
    ])
    assert kinds[True] == {"exact": 1, "too short": 1}
    assert kinds[False] == {"other phrase": 1}
