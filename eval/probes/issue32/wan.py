import pickle, numpy as np
R = pickle.load(open("artifacts/issue32/window.pkl","rb"))
print("n", len(R), "engine", np.mean([r["hit"] for r in R]))
for name in ("next","prev"):
    have = [r for r in R if name in r]
    oracle = sum((not r["hit"]) and r[name]["gold"] for r in have)
    print(name, "miss & nb gold:", oracle, " hit & nb gold:", sum(r["hit"] and r[name]["gold"] for r in have))
    for t in (-2,-1,0,1,2,3,4):
        for crit in ("win","alone","alone-top"):
            def sw(r):
                x = r[name]
                if crit == "win": return x["in_nb"] and x["ev"] > t
                if crit == "alone": return x["in_nb"] and x["ev_alone"] > t
                return x["in_nb"] and x["ev_alone"] - x["ev_top"] > t
            hits = [ (r[name]["gold"] if sw(r) else r["hit"]) if name in r else r["hit"] for r in R]
            nsw = sum(sw(r) for r in have)
            print(f"  {name} {crit:9s} t={t:+d}: hit {np.mean(hits):.3f} switched {nsw}")
