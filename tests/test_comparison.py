"""The comparison chapter's machinery (utils.comparison): the separation rule and the
verdicts it gives, clear errors for results that are missing or not results, the decision
guide's reasoning, the committed results file, and the rule that every number the chapter
prints comes from that file."""

import json
import math
import re

import pytest

from utils import checks, comparison, protocol
from utils.config import REPO_ROOT

CHAPTER = REPO_ROOT / "chapters" / "08_comparison" / "choosing_in_practice.ipynb"


def record(task, family, seed, score, **fields):
    """A final record as the runner writes it, with only what the chapter reads."""
    metric = protocol.TASKS[task].metric
    base = {
        "key": f"{task}/{family}/matched/seed{seed}",
        "task": task,
        "family": family,
        "budget": "matched",
        "stage": "final",
        "seed": seed,
        "train_fraction": None,
        "metric": metric,
        "test_metric": score,
        "test": {"test": {metric: score}},
        "train_examples": 1000,
        "parameters": 40_000,
        "seconds_per_epoch": 2.0,
        "train_seconds": 20.0,
        "latency_ms_batch1": 1.0,
        "quick": False,
    }
    return base | fields


def scores(task, by_family):
    """Three seeds per family: ``{family: (s0, s1, s2)}``."""
    return [
        record(task, family, seed, value)
        for family, values in by_family.items()
        for seed, value in enumerate(values)
    ]


def test_a_gap_larger_than_both_spreads_makes_a_winner_and_a_smaller_one_does_not():
    records = scores("speech", {"rnn": (0.90, 0.91, 0.92), "cnn": (0.80, 0.81, 0.82)})
    records += scores("images", {"rnn": (0.90, 0.91, 0.92), "cnn": (0.89, 0.90, 0.91)})
    verdict = comparison.verdicts(comparison.summary_table(records))
    assert verdict.loc["speech", "winner"] == "rnn"
    assert verdict.loc["images", "winner"] is None
    assert verdict.loc["images", "sharing_the_lead"] == ["rnn", "cnn"]


def test_for_an_error_rate_the_smaller_mean_wins():
    records = scores(
        "digit_strings",
        {
            "hybrid": (0.10, 0.11, 0.12),
            "cnn": (0.20, 0.21, 0.22),
            "rnn": (0.3, 0.3, 0.3),
        },
    )
    verdict = comparison.verdicts(comparison.summary_table(records))
    assert verdict.loc["digit_strings", "winner"] == "hybrid"
    assert verdict.loc["digit_strings", "runner_up"] == "cnn"


def test_the_best_must_be_separated_from_every_family_not_only_the_runner_up():
    records = scores(
        "speech",
        {
            "rnn": (0.900, 0.901, 0.902),
            "cnn": (0.880, 0.881, 0.882),
            "hybrid": (0.8, 0.9, 1.0),
        },
    )
    verdict = comparison.verdicts(comparison.summary_table(records))
    assert verdict.loc["speech", "winner"] is None
    assert set(verdict.loc["speech", "sharing_the_lead"]) == {"rnn", "hybrid"}


def test_one_seed_never_separates():
    assert not comparison.separated(0.9, math.nan, 0.1, math.nan)
    assert comparison.separated(0.9, 0.1, 0.5, 0.1)
    assert not comparison.separated(0.9, 0.1, 0.75, 0.1)


def test_missing_and_quick_results_are_refused_with_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="make benchmark"):
        comparison.load_results(tmp_path / "none.jsonl")
    path = tmp_path / "quick.jsonl"
    protocol.append_record(path, record("speech", "cnn", 0, 0.5, quick=True))
    with pytest.raises(ValueError, match="quick-mode record"):
        comparison.load_results(path)
    path.write_text("")
    with pytest.raises(ValueError, match="no complete record"):
        comparison.load_results(path)


def test_hybrid_costs_say_what_the_hybrid_pays_and_gains():
    records = scores(
        "digit_strings", {"hybrid": (0.10, 0.11, 0.12), "cnn": (0.20, 0.21, 0.22)}
    )
    records = [
        r | {"train_seconds": 30.0 if r["family"] == "hybrid" else 20.0}
        for r in records
    ]
    costs = comparison.hybrid_costs(comparison.summary_table(records))
    assert costs.loc["digit_strings", "time_ratio"] == pytest.approx(1.5)
    assert costs.loc["digit_strings", "gain"] == pytest.approx(
        0.10
    )  # lower error: a gain
    assert costs.loc["digit_strings", "separated"]


def latency_record(family, ms):
    return {
        "key": f"latency/{family}/matched/seed0",
        "task": "latency",
        "family": family,
        "stage": "latency",
        "lengths": [64, 256, 1024, 4096],
        "latency_ms_by_length": ms,
        "train_step_ms_by_length": [2 * m for m in ms],
        "parameters": 40_000,
    }


def test_the_guide_drops_the_transformer_for_streaming_and_obeys_a_latency_budget():
    records = scores(
        "speech",
        {
            "transformer": (0.95, 0.95, 0.96),
            "rnn": (0.80, 0.81, 0.82),
            "cnn": (0.78, 0.79, 0.80),
        },
    )
    records += [
        latency_record("transformer", [0.5, 1, 4, 16]),
        latency_record("rnn", [1, 4, 16, 64]),
        latency_record("cnn", [0.2, 0.4, 0.8, 1.6]),
    ]
    clip = comparison.DataDescription("audio clip", length=100, examples=5000)
    assert comparison.recommend(clip, records).family == "transformer"
    streaming = comparison.DataDescription("audio clip", 100, 5000, streaming=True)
    advice = comparison.recommend(streaming, records)
    assert advice.family == "rnn" and "transformer" not in advice.considered
    assert any(r.startswith("streaming") for r in advice.reasons)
    # at 1,024 steps the RNN takes 16 ms and the CNN 0.8 ms: a 5 ms budget leaves the CNN
    fast = comparison.DataDescription(
        "audio clip", 1024, 5000, latency_ms=5, streaming=True
    )
    advice = comparison.recommend(fast, records)
    assert advice.family == "cnn"
    assert "16.0 ms" in advice.reasons[-1] and "0.8 ms" in advice.reasons[-1]
    assert comparison.latency_at(comparison.latency_table(records), "rnn", 512) == (
        pytest.approx(8.0)
    )  # halfway between 256 and 1,024 on log-log axes


def test_with_little_data_the_guide_reads_the_images_curve():
    records = scores("images", {"cnn": (0.90, 0.91, 0.92), "rnn": (0.80, 0.81, 0.82)})
    for family, score in (
        ("cnn", 0.60),
        ("rnn", 0.70),
    ):  # at 100 examples the RNN leads
        records += [
            record("images", family, s, score + 0.001 * s, train_fraction=0.1,
                   train_examples=100) | {"key": f"images/{family}/matched/train0.1/seed{s}"}
            for s in range(3)
        ]  # fmt: skip
    advice = comparison.recommend(comparison.DataDescription("image", 28, 120), records)
    assert advice.family == "rnn"
    assert "100 examples" in advice.reasons[-1]


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"kind": "video"}, "kind 'video' is not one of image, audio clip"),
        ({"length": 0}, "length and examples must be at least 1"),
        ({"latency_ms": -1}, "latency_ms must be positive or None"),
    ],
)
def test_a_bad_description_says_what_is_allowed(fields, message):
    values = {"kind": "image", "length": 28, "examples": 100} | fields
    with pytest.raises(ValueError, match=message):
        comparison.DataDescription(**values)


def test_the_winner_check_passes_the_rule_and_refuses_the_usual_mistakes():
    def rule(means, sds, low):
        best = (min if low else max)(means, key=means.get)
        others = [f for f in means if f != best]
        ok = all(abs(means[best] - means[f]) > sds[best] + sds[f] for f in others)
        return best if ok else None

    def runner_up_only(means, sds, low):
        ranked = sorted(means, key=means.get, reverse=not low)
        a, b = ranked[:2]
        return a if abs(means[a] - means[b]) > sds[a] + sds[b] else None

    def higher_always(means, sds, low):
        return rule(means, sds, False)

    assert checks.check_winner_rule(rule)
    assert not checks.check_winner_rule(runner_up_only)
    assert not checks.check_winner_rule(higher_always)
    assert not checks.check_winner_rule("not a function")


# ----------------------------------------------------------------------------- committed results


def test_the_committed_results_hold_every_reduced_cell_at_full_settings():
    records = comparison.load_results()  # refuses quick-mode records
    keys = {r["key"] for r in records}
    planned = {c.key for c in protocol.plan("reduced")}
    assert planned <= keys, sorted(planned - keys)[:5]
    for r in records:
        assert len(r["machine"]["commit"]) == 40 and r["machine"]["cores"] >= 1
    summary = comparison.summary_table(records)
    assert set(summary["seeds"]) == {len(protocol.SEEDS)}


def _numbers_of(value, out: set, strings: set):
    """Every number and string inside a record, table or dataclass, recursively."""
    if hasattr(value, "to_dict"):  # pandas
        value = value.reset_index().to_dict("list")
    if hasattr(value, "__dataclass_fields__"):
        value = vars(value)
    if isinstance(value, dict):
        for k, v in value.items():
            _numbers_of(k, out, strings)
            _numbers_of(v, out, strings)
    elif isinstance(value, (list, tuple, set)):
        for v in value:
            _numbers_of(v, out, strings)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, (int, float)):
        if not math.isnan(value):
            out.add(float(value))
    elif isinstance(value, str):
        strings.add(value)


def _from_results(token: str, numbers: set) -> bool:
    """Whether a printed number is some value of ``numbers`` as printed: rounded to the
    token's decimals, as is or as a percentage."""
    decimals = len(token.split(".")[1]) if "." in token else 0
    value = float(token)
    for n in numbers:
        for scaled in (n, 100 * n, n / 60, n / 3600):
            if round(scaled, decimals) == pytest.approx(
                value, abs=10 ** -(decimals + 3)
            ):
                return True
            if abs(scaled) == pytest.approx(abs(value), abs=10 ** -(decimals + 3)):
                return True
    return False


def test_every_number_the_chapter_prints_comes_from_the_results_file(quick_mode):
    """Execute the chapter and read its text outputs: each number printed by a cell that
    reads results must be a value of the results file or of what utils.comparison computes
    from it (cells that build or time something here say so in their metadata)."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(CHAPTER, as_version=4)
    NotebookClient(
        notebook, timeout=600, resources={"metadata": {"path": CHAPTER.parent}}
    ).execute()

    records = comparison.load_results()
    summary = comparison.summary_table(records)
    numbers, strings = set(), set()
    derived = [
        records,
        summary,
        comparison.verdicts(summary),
        comparison.hybrid_costs(summary),
        comparison.provenance(records),
        comparison.protocol_cost(records),
        comparison.curve_table(records),
        comparison.latency_table(records),
        comparison.TASK_LABELS,
        protocol.TASKS,
        [comparison.robustness_table(records, t) for t in comparison.ROBUSTNESS_PANELS],
    ]
    for value in derived:
        _numbers_of(value, numbers, strings)
    strings |= {task.split for task in protocol.TASKS.values()}
    labels = sorted(strings, key=len, reverse=True)  # the longest first

    checked = 0
    for cell in notebook.cells:
        if cell.cell_type != "code" or "not_from_results" in cell.metadata.get(
            "course", {}
        ):
            continue
        if (
            "solution" in cell.metadata.get("tags", [])
            and "hybrid_cost" not in cell.source
        ):
            continue
        for output in cell.get("outputs", []):
            text = output.get("text") or output.get("data", {}).get("text/plain", "")
            for label in labels:  # names that hold digits ("seed0", "4× length")
                if len(label) > 2:
                    text = text.replace(label, " ")
            for token in re.findall(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?", text):
                token = token.replace(",", "")
                checked += 1
                assert _from_results(token, numbers), (
                    f"cell {cell.get('id')} prints {token}, which is not in the results "
                    f"file: {text[:300]!r}"
                )
    assert checked > 50  # the chapter does print numbers, and they were read


def test_the_chapter_prose_states_no_number_of_its_own():
    """Numbers in the chapter's Markdown are the protocol's constants, checked here
    against the code that uses them; results are printed by cells, never typed."""
    notebook = json.loads(CHAPTER.read_text())
    prose = "\n".join(
        "".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "markdown"
    )
    prose = re.sub(r"```.*?```", " ", prose, flags=re.S)  # commands and directives
    prose = re.sub(r"\{(doc|ref|cite)\}`[^`]*`|`[^`]*`|\([^)]*\)=", " ", prose)
    from utils.data import speech

    lengths, hop = protocol.LATENCY_LENGTHS, speech.HOP_LENGTH / speech.SAMPLE_RATE
    constants = {
        "1-D", "2-D", "3 × 3",  # names, not measurements
        f"{lengths[0] * hop:.2f} s", f"{lengths[-1] * hop:.0f} s",  # in seconds of audio
        f"{protocol.SPEECH_STRESS['late_200ms'][1]} ms",
        "16 to 4,096",  # Part I's lengths (chapter 1)
        f"batch of {protocol.LATENCY_BATCH}",  # the latency cells' training step
    }  # fmt: skip
    for constant in sorted(constants, key=len, reverse=True):
        prose = prose.replace(constant, " ")
    assert re.findall(r"\d", prose) == [], re.findall(r".{30}\d.{30}", prose)[:5]
