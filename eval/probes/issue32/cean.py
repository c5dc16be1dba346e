import pickle, sys, numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
R = pickle.load(open("artifacts/issue32/top4.pkl","rb"))
ce = pickle.load(open(f"artifacts/issue32/ce-{sys.argv[1]}.pkl","rb"))
for r, c in zip(R, ce): r["ce"] = c
def h(pick):
    out = {}
    for r in R:
        for k in (r["kind"], "all"): out.setdefault(k, []).append(bool(r["y"][pick(r)]))
    return {k: round(float(np.mean(v)), 3) for k, v in sorted(out.items())}
for use in (False, True):
    picks = {}
    for fold in (0, 1):
        f = lambda r: np.column_stack([r["x"], r["ce"], r["ce"] - r["ce"].max()]) if use else r["x"]
        tr = [r for r in R if r["a"] % 2 != fold and r["y"].any()]
        X = np.vstack([f(r) for r in tr]); Y = np.concatenate([r["y"] for r in tr])
        sc = StandardScaler().fit(X); clf = LogisticRegression(max_iter=2000).fit(sc.transform(X), Y)
        for r in R:
            if r["a"] % 2 == fold: picks[id(r)] = int(np.argmax(clf.predict_proba(sc.transform(f(r)))[:, 1]))
    print("explain 2-fold", "+ce" if use else "", h(lambda r: picks[id(r)]))
for k in (2, 3, 4):
    print(f"ce argmax among top {k}", h(lambda r: int(np.argmax(r["ce"][:k]))))
