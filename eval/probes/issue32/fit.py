import pickle, sys, json
import numpy as np, torch
from sklearn.preprocessing import StandardScaler
from qa.models import ScoringModel
from qa.features import FEATURES
torch.set_num_threads(1)
rows = pickle.load(open("artifacts/issue32/rows-0-100.pkl","rb")) + pickle.load(open("artifacts/issue32/rows-100-200.pkl","rb"))
shipped = ScoringModel.from_json(open("qa/models/reranker.json").read()).bind(FEATURES)

def feats(r, ext):
    if ext == "none": return r["x"]
    e = r["ext"]
    x = r["x"]
    ov = x[:, FEATURES.index("overlap_idf")]
    qr = x[:, FEATURES.index("q_reason")]
    from qa.kinds import question_kind
    qm = np.full(len(x), float(r["kind"] == "manner"))
    qe = np.full(len(x), float(r["kind"] in ("reason","manner")))
    cols = [e[:,0], e[:,1], e[:,0]-ov, e[:,2]*qe, e[:,3]*qm, qm, qe]
    if ext == "prev": cols = [e[:,0], e[:,1], e[:,0]-ov]
    return np.column_stack([x] + cols)

def fit(train, ext, wexp, epochs=30, seed=0):
    torch.manual_seed(seed)
    lists = [r for r in train if r["y"].any()]
    X = np.vstack([feats(r, ext) for r in lists])
    sc = StandardScaler().fit(X)
    L = max(len(r["y"]) for r in lists)
    d = X.shape[1]
    xs = np.zeros((len(lists), L, d), np.float32); m = np.zeros((len(lists), L), bool); ys = np.zeros((len(lists), L), np.float32)
    w = np.ones(len(lists), np.float32)
    for i, r in enumerate(lists):
        n = len(r["y"]); xs[i,:n] = sc.transform(feats(r, ext)); m[i,:n] = True; ys[i,:n] = r["y"]/r["y"].sum()
        if r["kind"] in ("reason","manner"): w[i] = wexp
    xs, m, ys, w = map(torch.tensor, (xs, m, ys, w))
    net = torch.nn.Sequential(torch.nn.Linear(d,32), torch.nn.ReLU(), torch.nn.Linear(32,16), torch.nn.ReLU(), torch.nn.Linear(16,1))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3, weight_decay=1e-4)
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        for b in np.array_split(rng.permutation(len(lists)), max(len(lists)//64,1)):
            b = torch.as_tensor(b)
            lg = net(xs[b]).squeeze(-1).masked_fill(~m[b], -1e9)
            loss = -(w[b] * (ys[b] * torch.log_softmax(lg, 1)).sum(1)).sum() / w[b].sum()
            opt.zero_grad(); loss.backward(); opt.step()
    def score(r):
        with torch.no_grad():
            return net(torch.tensor(sc.transform(feats(r, ext)), dtype=torch.float32)).squeeze(-1).numpy()
    return score

def report(score, name):
    res = {}
    for r in rows:
        a = r["article"]
        if a >= 80: continue
        s = score(r); order = np.argsort(-s, kind="stable")
        kind = r["kind"]
        if r["base"] and a < 40:
            res.setdefault("all@1", []).append(r["y"][order[0]])
        if kind in ("reason","manner"):
            for k in (1,2,4):
                res.setdefault(f"{kind}@{k}", []).append(r["y"][order[:k]].any())
                res.setdefault(f"why/how@{k}", []).append(r["y"][order[:k]].any())
        elif r["base"] and a < 80:
            res.setdefault("other@1(0-79)", []).append(r["y"][order[0]])
    print(name, {k: f"{np.mean(v):.3f}/{len(v)}" for k, v in res.items()}, flush=True)

report(lambda r: shipped.predict(r["x"]), "shipped")
train = [r for r in rows if r["article"] >= 80 and r["base"]]
for ext, wexp in [(a, float(b)) for a, b in (x.split(":") for x in sys.argv[1:])]:
    report(fit(train, ext, wexp), f"{ext} w={wexp}")
