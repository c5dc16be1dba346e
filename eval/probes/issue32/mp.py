import pickle, numpy as np, time, torch
torch.set_num_threads(2)
from sentence_transformers import SentenceTransformer
R = pickle.load(open("artifacts/issue32/top4.pkl","rb"))
m = SentenceTransformer("/tmp/mpnet-model/all-mpnet-base-v2", device="cpu")
t = time.time()
qv = m.encode([r["q"] for r in R], batch_size=32, normalize_embeddings=True)
sents = sorted({s for r in R for s in r["texts"]})
sv = m.encode(sents, batch_size=32, normalize_embeddings=True)
pos = {s: i for i, s in enumerate(sents)}
for r, v in zip(R, qv):
    r["mp"] = np.asarray([float(sv[pos[s]] @ v) for s in r["texts"]])
print(time.time() - t)
pickle.dump(R, open("artifacts/issue32/top4mp.pkl","wb"))
