import json, sys
cells = []
def md(s): cells.append({"cell_type": "markdown", "metadata": {}, "source": s.strip("\n")})
def code(s, tags=None, answers=None):
    meta = {}
    if tags: meta["tags"] = tags
    if answers: meta["course"] = {"answers": answers}
    cells.append({"cell_type": "code", "metadata": meta, "source": s.strip("\n"), "outputs": [], "execution_count": None})

md(r'''
# Digit strings: which family reads a sequence of symbols?

The earlier chapters asked a network for *one* label per input. Many signals carry a **sequence
of symbols** instead: the digits of a PIN spoken into a phone, the characters of a line of text,
the bases of a DNA strand passing through a nanopore. How many symbols there are is not known in
advance, and nobody marks where each one starts. This chapter strings recordings of the Free
Spoken Digit Dataset {cite}`jackson2018fsdd` into strings of 3-7 digits and trains three
networks to read them with **connectionist temporal classification** (CTC)
{cite}`graves2006ctc`: convolutions only, a recurrent network only, and the hybrid, a
convolutional front end followed by a bidirectional GRU (a CRNN).

**You will learn to**

- explain why a classification head cannot read a string of unknown length and alignment, and
  what CTC's blank symbol and its collapsing rule do instead;
- compute a CTC probability by summing over alignments, and decode a model's output greedily
  and with a prefix beam search;
- compare CNN-only, RNN-only and CNN → RNN models for transcription at one parameter budget,
  by digit error rate and whole-string accuracy, on known and on new voices;
- read a CTC model's per-frame posteriors against the spectrogram of what it heard.

**Before you start**: the Speech chapter (log-mel features, the three families on single
digits) and the recurrent and convolutional chapters of Part I (bidirectional GRUs, receptive
fields, pooling).
''')
code("# set-up cell: filled in by `python -m utils.course.notebooks sync`", tags=["course-setup", "remove-cell"])
code(r'''
import json
import time

import pandas as pd
import torch

from utils import plots
from utils.config import REPO_ROOT, config, get_device, seed_everything
from utils.data import describe, digit_strings, load_task
from utils.data.speech import list_recordings, read_wav

CHAPTER_START = time.perf_counter()  # the closing note reports how long the page took
print(config)
print("device:", get_device(), "| CPU threads:", torch.get_num_threads())
''')
md("What the whole page costs, from the course's timing report (`make bench`):")
code(r'''
report_file = REPO_ROOT / "results" / "timing.json"
report = json.loads(report_file.read_text()) if report_file.exists() else {}
chapter = "07_hybrids/digit_strings.ipynb"
runs = [r for r in report.get("notebooks", []) if r["notebook"].endswith(chapter)]
if not runs:
    print("No timing report for this chapter yet: `make bench` measures it.")
else:
    m, seconds = report["machine"], runs[0]["seconds"]
    print(f"Last measured: {report['mode']} settings, {m['cpu_count']} CPU cores")
    print(f"  {seconds / 60:.1f} min ({seconds:.0f} s), {runs[0]['status']}")
''')
md(r'''
## Listening first

`load_task("digit_strings")` builds the strings from a seed (`utils/data/digit_strings.py`; its
card is printed below). Five speakers speak the training strings; their held-out takes make the
**known voices** test set, and the sixth speaker, never heard in training, the **new voice**
test set. No recording is used in two sets.
''')
code(r'''
task = load_task("digit_strings")
print(task)
describe("digit_strings")
''')
md(r'''
Here is one test string. Each plan records which recordings made it, so its label is the digits
of those recordings, in order.
''')
code(r'''
plan = task.spec.extra["plans"]["test"][0]
by_stem = {r.stem: r for r in list_recordings()}
waves = {
    s: digit_strings.trim_silence(read_wav(by_stem[s].path).float() / 32768) for s in plan.stems
}
wave = digit_strings.render(plan, waves)
print("recordings:", ", ".join(plan.stems))
print("label:     ", " ".join(map(str, plan.digits)), f"| {len(wave) / 8000:.2f} s")
plots.audio_player(wave, 8000)
''')
code(r'''
n = int(task.test.lengths[0])
plots.spectrogram(
    task.test.x[0, :n].float(), hop_seconds=0.01, waveform=wave, sample_rate=8000,
    title=f"The string {''.join(map(str, plan.digits))}",
);
''')
md(r'''
## Why a classification head fails

A classifier ends in one distribution over a fixed set of classes. Here the answer has 3 to 7
digits (10⁷ possible strings of seven alone), and the strings last different times even for the
same number of digits, because words and gaps vary. A fixed number of slots would also need to
know *where* each digit is, and no label says so:
''')
code(r'''
lengths = (task.train.y >= 0).sum(1)
seconds = task.train.lengths.float() / 100
table = pd.DataFrame({"digits": lengths.numpy(), "seconds": seconds.numpy()})
table.groupby("digits")["seconds"].describe()[["count", "min", "mean", "max"]].round(2)
''')
md(r'''
## CTC, step by step

CTC lets a network emit one distribution per time step over the symbols **plus a blank**
(in this course the blank is always the *last* class). A path, one symbol per step, is read by
**collapsing**: merge repeated symbols, then drop blanks. `a a – b b` reads `a b`, and `a – a`
reads `a a`: a blank is how the model says the same digit twice. The probability of a label is
the **sum over every path that collapses to it**, and the loss is minus its logarithm.

A small example: two symbols `a`, `b` and the blank `–`, over four steps.
''')
code(r'''
import itertools

from utils.ctc import ctc_beam_decode, ctc_greedy_decode, ctc_loss

symbols = ["a", "b", "–"]  # the blank last
probs = torch.tensor(
    [[0.6, 0.1, 0.3], [0.5, 0.1, 0.4], [0.1, 0.5, 0.4], [0.1, 0.4, 0.5]]
)  # [steps, symbols]: one distribution per step


def collapse(path, blank=2):
    merged = [s for i, s in enumerate(path) if i == 0 or s != path[i - 1]]
    return [s for s in merged if s != blank]


paths = [p for p in itertools.product(range(3), repeat=4) if collapse(p) == [0, 1]]
total = sum(float(torch.prod(probs[range(4), list(p)])) for p in paths)
examples = ["".join(symbols[s] for s in p) for p in paths[:4]]
print(f"{len(paths)} of 81 paths read 'a b', e.g.", examples)
print(f"sum over them: P(a b) = {total:.4f}")
loss = ctc_loss(probs.log()[None], torch.tensor([4]), torch.tensor([[0, 1]]))
print(f"exp(-ctc_loss)        = {float(torch.exp(-loss * 2)):.4f}")
''')
md(r'''
PyTorch's loss divides by the target length (2 here), hence the `* 2`: the dynamic programme in
`ctc_loss` and the brute-force sum agree. **Greedy decoding** takes the most likely symbol at
each step and collapses; **beam search** keeps the few most likely *label prefixes*, summing over
the paths that spell each. They can disagree:
''')
code(r'''
two_steps = torch.tensor([[0.4, 0.1, 0.5], [0.4, 0.1, 0.5]]).log()
greedy = ctc_greedy_decode(two_steps)[0]
beam = ctc_beam_decode(two_steps, beam_width=4)[0]
print("greedy:", greedy or "(nothing)", "- the best single path '– –' has p = 0.25")
print("beam:  ", [symbols[s] for s in beam], "- 'a a', 'a –' and '– a' add up to 0.16 + 0.2 + 0.2")
''')
md(r'''
## Three models at one budget

The three families read the same log-mel frames and end in the same per-step classifier over
ten digits and the blank (`utils/models/hybrid.py`):

- **CNN only** (`ctc_cnn`): 1-D convolutions over time, features as channels; each output step
  sees a fixed window of frames and nothing beyond it.
- **RNN only** (`ctc_rnn`): frames averaged four at a time, then a two-layer bidirectional GRU.
- **CRNN** (`ctc_crnn`): 2-D convolutions over the spectrogram (frequency and time), each column
  of the last feature map becomes one step of a bidirectional GRU.

Each emits one step per 4 frames (40 ms), far more steps than a 7-digit string needs (CTC
needs at least one step per digit, plus one between repeats).
''')
code(r'''
from utils.evaluate import predict, score
from utils.models import count_parameters, match_parameters
from utils.train import fit

BUDGET = config.pick(full=60_000, quick=20_000)
EPOCHS = config.pick(full=5, quick=1)
FAMILIES = {  # name -> (architecture, settings): every family steps 4 frames at a time
    "CNN only": ("ctc_cnn", {"time_pool": (2, 2, 1, 1)}),
    "RNN only": ("ctc_rnn", {"downsample": 4}),
    "CRNN": ("ctc_crnn", {"downsample": 4, "time_pool": (1, 1, 1), "channels": (8, 16, 16)}),
}
models = {}
for name, (arch, settings) in FAMILIES.items():
    seed_everything(0)
    models[name] = match_parameters(arch, task.spec, BUDGET, **settings)
    print(f"{name:9s} {arch:9s} {count_parameters(models[name]):7,d} parameters")
''')
md("The two new families, printed, and the shape of one batch after each stage:")
code(r'''
batch = task.train.batch(torch.arange(8))
for name in ("CNN only", "RNN only"):
    inner = models[name].model
    print(inner)
    out = models[name](batch.x, batch.lengths)
    print(f"{name}: input {list(batch.x.shape)} -> log_probs {list(out.log_probs.shape)},",
          f"lengths {batch.lengths[:3].tolist()} frames -> {out.lengths[:3].tolist()} steps\n")
''')
md(r'''
One recipe for all three (`fit` uses the CTC loss for models that return a `CTCOutput`, and
keeps the epoch with the lowest validation **digit error rate**: edit distance over digits
divided by the number of digits).
''')
code(r'''
histories = {}
for name, model in models.items():
    seed_everything(0)
    histories[name] = fit(
        model, task.train, task.val, epochs=EPOCHS, lr=3e-3, metric="error_rate",
        name=name, quiet=True,
    )
    h = histories[name]
    print(f"{name:9s} {h.train_seconds:5.0f} s, best validation DER {min(h.val_metric):.3f}")
''')
md("Decided on validation; the two test sets are read once, here:")
code(r'''
sets = {"val": task.val, "known voices": task.test, "new voice": task.extra_tests["new_voice"]}
rows = {}
for name, model in models.items():
    row = {}
    for label, split in sets.items():
        out = predict(model, split)
        row[f"{label} DER"] = score("error_rate", out, split.y)
        row[f"{label} string acc."] = score("accuracy", out, split.y)
    row["train s"] = histories[name].train_seconds
    rows[name] = row
results = pd.DataFrame(rows).T
results.round(3)
''')
code(r'''
from utils.files import write_text_atomic

out_dir = REPO_ROOT / "results" / "hybrids"
for name, h in histories.items():
    h.save(out_dir / f"history_{FAMILIES[name][0]}.json")
summary = {"mode": "quick" if config.quick else "full", "budget": BUDGET, "epochs": EPOCHS,
           "results": results.round(4).to_dict(orient="index")}
write_text_atomic(out_dir / "summary.json", json.dumps(summary, indent=2))
print("saved to", out_dir.relative_to(REPO_ROOT))
''')
md(r'''
## The alignment, shown

CTC never told the model where the digits are, yet it learns to fire each digit at one moment,
and to say *blank* in between. Here is the CRNN on the first known-voice test string:
''')
code(r'''
model = models["CRNN"].eval()
x, n = task.test.x[:1].float(), task.test.lengths[:1]
with torch.no_grad():
    out = model(x, n)
steps = int(out.lengths[0])
decoded = ctc_beam_decode(out.log_probs[:, :steps], beam_width=8)[0]
print("label:  ", [d for d in task.test.y[0].tolist() if d >= 0])
print("decoded:", decoded)
plots.plot_ctc_alignment(
    x[0, : int(n[0])], out.log_probs[0, :steps], frame_seconds=0.01,
    class_names=task.spec.class_names, decoded=decoded,
);
''')
md(r'''
## Other hybrids, briefly

The same pattern, a convolutional stage that finds local patterns and a recurrent stage that
reads them in order, recurs wherever a long signal must become a sequence of symbols or a
sequence of frames must be predicted:

- **ConvLSTM** {cite}`shi2015convlstm`: the convolution moves *inside* the recurrent cell (its
  gates are convolutions), for precipitation nowcasting from radar image sequences.
- **CRNN for scene text** {cite}`shi2017crnn`: a CNN over a word image, each column a step of a
  BiLSTM, CTC on top: this chapter's model, for text.
- **Nanopore basecallers** such as Chiron {cite}`teng2018chiron`: convolutions over the raw
  current signal, recurrent layers, CTC over the bases A, C, G, T.
- **Speech recognisers** such as Deep Speech 2 {cite}`amodei2016deepspeech2`: convolutional
  layers over the spectrogram in front of many recurrent layers, trained with CTC.
''')
code(r'''
boxes = {
    "in": (0.12, 0.8, "input\n(spectrogram, image,\ncurrent signal)"),
    "conv": (0.12, 0.45, "convolutions\nlocal patterns"),
    "rnn": (0.45, 0.45, "(bi)RNN\ncontext in order"),
    "ctc": (0.78, 0.45, "per-step classifier\n+ blank → CTC", "answer:1"),
    "out": (0.78, 0.8, "symbols\n(digits, letters, bases)"),
    "clstm": (0.45, 0.12, "ConvLSTM: the gates\nthemselves are convolutions", "answer:2"),
}
arrows = [("in", "conv"), ("conv", "rnn"), ("rnn", "ctc"), ("ctc", "out"), ("rnn", "clstm")]
plots.plot_diagram(
    boxes, arrows, title="CNN → RNN → CTC, and the ConvLSTM variant",
    description="Box diagram: input, convolutions, recurrent layer, CTC classifier, symbols",
);
''')
md(r'''
## Takeaways

TAKEAWAYS
''')
md(r'''
## Exercises
''')
md(r'''
```{exercise} Collapse a path (easy)
:label: hybrids-collapse

Write `collapse_path(path, blank)` that turns a list of per-step symbols into the label CTC reads:
merge repeats, then drop blanks. `collapse_path([1, 1, 10, 1, 2, 2], blank=10)` is `[1, 1, 2]`.
```
''')
md("````{solution-start} hybrids-collapse\n:class: dropdown\n````")
code(r'''
# BEGIN SOLUTION
def collapse_path(path, blank):
    out, previous = [], None
    for symbol in path:
        if symbol != previous and symbol != blank:
            out.append(symbol)
        previous = symbol
    return out
# END SOLUTION
''', tags=["solution"])
md("````{solution-end}\n````")
code(r'''
from utils import checks

checks.check_ctc_collapse(collapse_path)
''', tags=["uses-answer"], answers=["collapse_path"])
md(r'''
```{exercise} Only valid PINs (medium)
:label: hybrids-pin

A PIN has exactly four digits. Make decoding return only four-digit strings: among a few
candidates (the beam's best, and its one-digit deletions and insertions), keep the four-digit
one with the highest CTC probability. How often does it fix a four-digit test string?
```
''')
md("````{solution-start} hybrids-pin\n:class: dropdown\n````")
code(r'''
def best_pin(log_probs, steps):
    best = ctc_beam_decode(log_probs[None, :steps], beam_width=8)[0]
    candidates = {tuple(best)}
    candidates |= {tuple(best[:i] + best[i + 1 :]) for i in range(len(best))}
    for i in range(len(best) + 1):
        candidates |= {(*best[:i], d, *best[i:]) for d in range(10)}
    valid = [list(c) for c in candidates if len(c) == 4]
    scores = [-float(ctc_loss(log_probs[None, :steps], torch.tensor([steps]), torch.tensor([c])))
              for c in valid]
    return valid[max(range(len(valid)), key=scores.__getitem__)] if valid else best


four = [i for i, y in enumerate(task.test.y.tolist()) if sum(d >= 0 for d in y) == 4]
outputs = predict(models["CRNN"], task.test)
plain = pinned = 0
for i in four:
    label = [d for d in task.test.y[i].tolist() if d >= 0]
    steps = int(outputs.lengths[i])
    plain += ctc_beam_decode(outputs.log_probs[i : i + 1, :steps])[0] == label
    pinned += best_pin(outputs.log_probs[i], steps) == label
print(f"{len(four)} four-digit strings: beam {plain} right, constrained {pinned} right")
''', tags=["solution"])
md("````{solution-end}\n````")
md(r'''
```{exercise} Twice the same digit (open-ended)
:label: hybrids-repeats

To read `5 5`, a CTC model must emit a blank between the two fives. Compare each family's digit
error rate on test strings with two equal neighbouring digits and on those without. Does the
CNN-only model, whose steps see only a fixed window, suffer more? A good answer gives the
numbers and explains them with the receptive field.
```
''')
md("````{solution-start} hybrids-repeats\n:class: dropdown\n````")
code(r'''
from utils.ctc import label_sequences

labels = label_sequences(task.test.y)
repeat = torch.tensor([any(a == b for a, b in itertools.pairwise(s)) for s in labels])
for name, model in models.items():
    out = predict(model, task.test)
    der = {k: score("error_rate", type(out)(out.log_probs[m], out.lengths[m]), task.test.y[m])
           for k, m in (("with repeats", repeat), ("without", ~repeat)) if m.any()}
    print(name, {k: round(v, 3) for k, v in der.items()})
''', tags=["solution"])
md("````{solution-end}\n````")
md(r'''
```{exercise} Shorter gaps (open-ended)
:label: hybrids-gaps

Make test strings with almost no silence between digits
(`load_task("digit_strings", gap=(0.0, 0.03))`) and evaluate the trained models on its `test`.
Which family degrades most, and why? A good answer also retrains the best family on short gaps.
```
''')
md("````{solution-start} hybrids-gaps\n:class: dropdown\n````")
code(r'''
tight = load_task("digit_strings", gap=(0.0, 0.03))
T = task.spec.input_shape[0]
x = tight.test.x[:, :T]  # the models accept any length; crop to compare like with like
for name, model in models.items():
    out = predict(model, type(tight.test)(x, tight.test.y, tight.test.lengths.clamp(max=T)))
    print(f"{name}: DER {score('error_rate', out, tight.test.y):.3f} with gaps of 0-30 ms")
''', tags=["solution"])
md("````{solution-end}\n````")
code(r'''
print(f"This page took {time.perf_counter() - CHAPTER_START:.0f} s")
''')

nb = {"cells": cells, "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}, "language_info": {"name": "python"}}, "nbformat": 4, "nbformat_minor": 5}
for i, c in enumerate(nb["cells"]):
    c["id"] = f"hyb-{i:02d}"
json.dump(nb, open(sys.argv[1], "w"), indent=1)
