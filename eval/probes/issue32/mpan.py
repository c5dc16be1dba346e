import pickle, numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
R = pickle.load(open("artifacts/issue32/top4mp.pkl","rb"))
R = [r for r in R]
def h(pick): 
    out = {}
    for r in R:
        for k in (r["kind"], "all"): out.setdefault(k, []).append(bool(r["y"][pick(r)]))
    return {k: round(np.mean(v), 3) for k, v in sorted(out.items())}
print("n", len(R), "any in top4", np.mean([r["y"].any() for r in R]))
print("final argmax", h(lambda r: int(np.argmax(r["fp"]))))
print("mpnet argmax", h(lambda r: int(np.argmax(r["mp"]))))
def feats(r, mp):
    x = r["x"]
    if mp: x = np.column_stack([x, r["mp"], r["mp"] - r["mp"].max()])
    return x
for mp in (False, True):
    picks = {}
    for fold in (0, 1):
        tr = [r for r in R if r["a"] % 2 != fold and r["y"].any()]
        X = np.vstack([feats(r, mp) for r in tr]); Y = np.concatenate([r["y"] for r in tr])
        sc = StandardScaler().fit(X); clf = LogisticRegression(C=1.0, max_iter=2000).fit(sc.transform(X), Y)
        for r in R:
            if r["a"] % 2 == fold:
                picks[id(r)] = int(np.argmax(clf.predict_proba(sc.transform(feats(r, mp)))[:, 1]))
    print("explain 2-fold", "with mpnet" if mp else "", h(lambda r: picks[id(r)]))
