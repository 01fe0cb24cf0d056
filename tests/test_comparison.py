"""The comparison chapter's machinery (utils.comparison): the separation rule and the
verdicts it gives, clear errors for results that are missing or not results, the decision
guide's reasoning, the committed results file, and the rule that every number the chapter
prints comes from that file."""

import html
import json
import math
import re

import pytest

from utils import checks, comparison, protocol
from utils.config import REPO_ROOT

CHAPTER = REPO_ROOT / "chapters" / "08_comparison" / "choosing_in_practice.ipynb"
WIDGET = "application/vnd.jupyter.widget-view+json"


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
        "epochs": 10,
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

    def every_pair(means, sds, low):
        pairs = [(a, b) for a in means for b in means if a < b]
        ok = all(abs(means[a] - means[b]) > sds[a] + sds[b] for a, b in pairs)
        return (min if low else max)(means, key=means.get) if ok else None

    def at_least(means, sds, low):
        best = (min if low else max)(means, key=means.get)
        others = [f for f in means if f != best]
        ok = all(abs(means[best] - means[f]) >= sds[best] + sds[f] for f in others)
        return best if ok else None

    def pooled(means, sds, low):
        best = (min if low else max)(means, key=means.get)
        others = [f for f in means if f != best]
        ok = all(
            abs(means[best] - means[f]) > math.hypot(sds[best], sds[f]) for f in others
        )
        return best if ok else None

    assert checks.check_winner_rule(rule)
    assert not checks.check_winner_rule(runner_up_only)
    assert not checks.check_winner_rule(higher_always)
    for wrong in (every_pair, at_least, pooled):
        assert not checks.check_winner_rule(wrong), wrong.__name__
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


def _printed_numbers(notebook, labels):
    """(cell id, number, text) for every number in the text outputs of the cells that
    read results (not those whose metadata says ``not_from_results``), after removing the
    labels that contain digits."""
    for cell in notebook.cells:
        course = cell.metadata.get("course", {})
        if cell.cell_type != "code" or "not_from_results" in course:
            continue
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "image/png" in data or WIDGET in data:
                continue  # a figure or a widget: its text is its size or its class
            text = output.get("text") or data.get("text/plain", "")
            if "text/html" in data:  # a (styled) table: read the cells it shows
                tags = r"<style.*?</style>|<[^>]+>"
                text = html.unescape(re.sub(tags, " ", data["text/html"], flags=re.S))
            for label in labels:  # names that hold digits ("seed0", "4× length")
                if len(label) > 2:
                    text = text.replace(label, " ")
            for token in re.findall(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?", text):
                yield cell.get("id"), token.replace(",", ""), text


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

    printed = list(_printed_numbers(notebook, labels))
    assert len(printed) > 50  # the chapter does print numbers, and they were read
    for cell_id, token, text in printed:
        assert _from_results(token, numbers), (
            f"cell {cell_id} prints {token}, which is not in the results file: "
            f"{text[:300]!r}"
        )
    # and a number typed by hand is caught
    doctored = next(c for c in notebook.cells if c.get("id") == "verdicts")
    doctored.outputs.append(
        {"output_type": "stream", "name": "stdout", "text": "0.4242"}
    )
    assert not all(
        _from_results(t, numbers) for _, t, _ in _printed_numbers(notebook, labels)
    )


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


def test_the_decision_guide_shows_a_static_answer_and_live_controls_redraw(capsys):
    from utils import widgets

    records = scores("speech", {"rnn": (0.90, 0.91, 0.92), "cnn": (0.80, 0.81, 0.82)})
    records += scores("images", {"rnn": (0.80, 0.81, 0.82), "cnn": (0.90, 0.91, 0.92)})
    records += [
        latency_record("rnn", [1, 4, 16, 64]),
        latency_record("cnn", [1, 1, 1, 1]),
    ]
    assert widgets.decision_guide(records, live=False) is None  # the book: a figure
    assert "Figure" in capsys.readouterr().out
    controls = widgets.decision_guide(records, live=True)
    assert "Figure" in capsys.readouterr().out
    controls["kind"].value = "image"  # moving a control draws the answer again
    assert "Figure" in capsys.readouterr().out
    controls["latency_ms"].value = 1.0
    assert "Figure" in capsys.readouterr().out


# ----------------------------------------------------------------------------- what the prose says


@pytest.fixture(scope="module")
def committed():
    records = comparison.load_results()
    summary = comparison.summary_table(records)
    return records, summary, comparison.verdicts(summary)


def ranked(summary, task):
    rows = summary.loc[task]
    low = comparison.lower_is_better(rows["metric"].iloc[0])
    return list(rows.sort_values("mean", ascending=low).index)


def test_what_the_chapter_says_of_each_task_holds_for_the_committed_results(committed):
    """The chapter's prose reads the committed results ("the convolutional family wins",
    "the Transformer falls towards chance"); if a rerun of the benchmark changes one of
    these, this test says which sentence to rewrite."""
    records, summary, verdict = committed
    # speech: no winner, all four share the lead
    assert verdict.loc["speech", "winner"] is None
    assert len(verdict.loc["speech", "sharing_the_lead"]) == 4
    # images: the CNN wins by several times the spread; hybrid second; row readers last
    images = summary.loc["images"]
    assert verdict.loc["images", "winner"] == "cnn"
    assert verdict.loc["images", "gap"] > 3 * (
        images.loc["cnn", "sd"] + images.loc["hybrid", "sd"]
    )
    assert ranked(summary, "images")[:2] == ["cnn", "hybrid"]
    # promoters: Transformer > hybrid > CNN, the rule separating each; the GRU on a subset
    assert ranked(summary, "promoters") == ["transformer", "hybrid", "cnn", "rnn"]
    assert verdict.loc["promoters", "winner"] == "transformer"
    promoters = summary.loc["promoters"]
    assert comparison.separated(*promoters.loc["hybrid", ["mean", "sd"]],
                                *promoters.loc["cnn", ["mean", "sd"]])  # fmt: skip
    gru = next(r for r in records if r["key"] == "promoters/rnn/matched/seed0")
    assert (
        gru["epochs"] == 2
        and gru["train_examples"] < promoters.loc["cnn", "train_examples"]
    )
    # motif order at 4x: the hybrid wins, leading at the training length too; both
    # convolutional designs lose some; the Transformer towards chance; the GRU unreliable
    motif = comparison.robustness_table(records, "motif_grammar")
    assert verdict.loc["motif_grammar", "winner"] == "hybrid"
    assert max(motif, key=lambda f: motif[f]["test"][0]) == "hybrid"
    for family in ("cnn", "hybrid"):
        assert motif[family]["length_800"][0] < motif[family]["test"][0]
    assert motif["transformer"]["length_800"][0] < 0.6
    assert motif["rnn"]["test"][1] > 0.1  # its seeds disagree widely at 200 bp already
    # the parameter counts are matched to within a tenth of the budget
    for r in records:
        if r["stage"] == "final":
            budget = r["budget_parameters"]
            assert abs(r["parameters"] - budget) < 0.1 * budget
    # digit strings: hybrid lowest, the CNN within the spread
    assert verdict.loc["digit_strings", "best"] == "hybrid"
    assert verdict.loc["digit_strings", "winner"] is None
    assert "cnn" in verdict.loc["digit_strings", "sharing_the_lead"]


def test_what_the_chapter_says_of_costs_and_length_holds(committed):
    records, summary, verdict = committed
    costs = comparison.hybrid_costs(summary)
    assert (
        costs.loc["speech", "time_ratio"] < 1 and costs.loc["images", "time_ratio"] < 1
    )
    for task in ("promoters", "motif_grammar"):  # about the same time
        assert 0.8 < costs.loc[task, "time_ratio"] < 1.25
    assert costs.loc["digit_strings", "time_ratio"] > 1.5  # clearly longer
    assert costs.loc["images", "gain"] < 0 and costs.loc["images", "separated"]
    assert (
        0 < costs.loc["promoters", "gain"] < 0.01
        and costs.loc["promoters", "separated"]
    )
    assert (
        costs.loc["motif_grammar", "gain"] > 0.03
        and costs.loc["motif_grammar", "separated"]
    )
    assert (
        not costs.loc["speech", "separated"]
        and not costs.loc["digit_strings", "separated"]
    )
    # takeaways: as fast as the CNN, or faster, on four of five; two tasks without a winner
    assert (costs["time_ratio"] <= 1.05).sum() == 4
    assert verdict["winner"].isna().sum() == 2
    promoters = summary.loc["promoters", "train_seconds"]
    assert promoters.idxmax() == "transformer"  # the longest training time of the four
    # latency: alike at the shortest length; Transformer grows fastest, hybrid least
    latency = comparison.latency_table(records)
    shortest = [row["inference_ms"][0] for row in latency.values()]
    assert max(shortest) < 1.5 * min(shortest)
    growth = {f: row["inference_growth"] for f, row in latency.items()}
    assert max(growth, key=growth.get) == "transformer"
    assert min(growth, key=growth.get) == "hybrid"
    steps = latency["rnn"]["lengths"][-1] / latency["rnn"]["lengths"][0]
    assert steps / 2 < growth["rnn"] < 2 * steps  # about in proportion to length
    transformer = latency["transformer"]
    assert transformer["train_step_growth"] > transformer["inference_growth"]


def test_what_the_chapter_says_of_little_data_and_changed_conditions_holds(committed):
    records = committed[0]
    curves = comparison.curve_table(records, "images")
    sizes = [n for n, _, _ in curves["cnn"]]
    at = {f: {n: m for n, m, _ in points} for f, points in curves.items()}
    leads = [at["cnn"][n] - max(at[f][n] for f in at if f != "cnn") for n in sizes]
    assert all(lead > 0 for lead in leads) and leads == sorted(leads, reverse=True)
    order = {n: sorted(at, key=lambda f: -at[f][n]) for n in sizes}
    assert order[sizes[0]][1] == "transformer"  # second with the fewest images...
    fewest = {f: next(p for p in curves[f] if p[0] == sizes[0]) for f in curves}
    assert not comparison.separated(*fewest["transformer"][1:], *fewest["hybrid"][1:])
    assert order[sizes[1]][-1] == order[sizes[2]][-1] == "transformer"  # last with more
    gains = {f: at[f][sizes[-1]] - at[f][sizes[0]] for f in at}
    assert max(gains, key=gains.get) == "rnn"
    speech = comparison.robustness_table(records, "speech")
    noisy = sorted(speech, key=lambda f: speech[f]["noise_0db"][0])
    assert noisy[0] == "cnn" and set(noisy[-2:]) == {"rnn", "transformer"}
    assert all(speech[f]["noise_0db"][0] < speech[f]["test"][0] for f in speech)
    late = sorted(speech, key=lambda f: speech[f]["late_200ms"][0])
    assert late[0] == "hybrid" and speech["transformer"]["late_200ms"][1] > 0.05
    assert speech["rnn"]["late_200ms"][0] >= speech["rnn"]["test"][0]  # it rises...
    assert not comparison.separated(
        *speech["rnn"]["late_200ms"], *speech["rnn"]["test"]
    )
    motif = comparison.robustness_table(records, "motif_grammar")
    kept = {f: motif[f]["length_800"][0] / motif[f]["test"][0] for f in motif}
    assert abs(kept["cnn"] - kept["hybrid"]) < 0.05  # a similar share of their accuracy
    assert max(motif, key=lambda f: motif[f]["length_800"][0]) == "hybrid"
    assert motif["transformer"]["length_800"][0] < 0.6
    digits = comparison.robustness_table(records, "digit_strings")
    assert all(digits[f]["new_voice"][0] > 5 * digits[f]["test"][0] for f in digits)
    for test_set, best in (("test", "cnn"), ("new_voice", "hybrid")):
        assert min(digits, key=lambda f: digits[f][test_set][0]) == best
        others = [f for f in digits if f != best]
        assert not all(
            comparison.separated(*digits[best][test_set], *digits[f][test_set])
            for f in others
        )
    # the ranking moved under most of the changes measured
    changes = [("speech", s) for s in ("noise_10db", "noise_0db", "late_200ms")]
    changes += [("motif_grammar", "length_400"), ("motif_grammar", "length_800")]
    changes += [("digit_strings", "new_voice")]
    moved = 0
    for task, test_set in changes:
        table = comparison.robustness_table(records, task)
        low = comparison.lower_is_better(protocol.TASKS[task].metric)

        def order_of(name, table=table, low=low):
            return sorted(table, key=lambda f: table[f][name][0], reverse=not low)

        moved += order_of(test_set) != order_of("test")
    assert moved > len(changes) / 2
