import sys, time, torch
from utils.data import load_task
from utils.models import match_parameters, count_parameters
from utils.train import fit
from utils.evaluate import score, predict
torch.set_num_threads(2)
data = load_task("digit_strings", quick=False)
epochs = int(sys.argv[1]); budget = int(sys.argv[2]); archs = sys.argv[3].split(",")
configs = {"ctc_crnn": dict(downsample=4, time_pool=(1, 1, 1), channels=(8, 16, 16)), "ctc_rnn": dict(downsample=4), "ctc_cnn": dict(time_pool=(2, 2, 1, 1))}
for arch in archs:
    torch.manual_seed(0)
    model = match_parameters(arch, data.spec, budget, **configs[arch])
    print(arch, count_parameters(model), flush=True)
    t = time.time()
    fit(model, data.train, data.val, epochs=epochs, metric="error_rate", lr=3e-3)
    secs = time.time() - t
    res = {}
    for k, s in (("val", data.val), ("known", data.test), ("new", data.extra_tests["new_voice"])):
        out = predict(model, s)
        res[k] = (score("error_rate", out, s.y), score("accuracy", out, s.y))
    print(f"{arch}: {count_parameters(model)} params, {secs:.0f} s, "
          + ", ".join(f"{k}: DER {d:.3f} acc {a:.3f}" for k, (d, a) in res.items()), flush=True)
