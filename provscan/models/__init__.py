"""Model artifacts: configuration, tokenizer and weight provenance, compared with registered reference models.

The code pipeline finds copied source; this subpackage answers the same question for what a model repository ships
besides code: `config.json` (architecture facts, matched to a table of known families as weak evidence), tokenizers
(vocabulary and merge order, judged against the overlap that independent tokenizers already share) and safetensors
weights (exact and near tensor reuse, the independence test of Zhu et al. 2025, norm weights by centred correlation).
One module per job:

| module | job |
|---|---|
| `errors` | the one error type: a file and what is wrong with it |
| `safetensors_io` | safetensors headers and index files validated, tensors memory-mapped, bf16 via ml_dtypes |
| `layout` | tensor names -> layer, expert, role (MLP up/gate/down, norm) and module |
| `weights` | one streaming pass over a checkpoint: hashes, seeded samples, MLP unit rows, norm vectors |
| `independence` | the hidden-unit matching test (and its permutation-robust variant), Fisher-combined |
| `norms` | norm weights by centred correlation with a permutation null |
| `reuse` | exact (hash) and near (sample correlation) tensor reuse, grouped by module |
| `tokenizer_io`, `tokenizer_compare` | tokenizer.json / SentencePiece / GGUF vocabularies read and compared |
| `config_facts` | config.json facts and the nearest known architectures (`rules/architectures.toml`) |
| `profile` | a model directory's profile: what is stored for a reference and compared for a submission |
| `refstore` | reference models in the cache dir (fingerprints only, never weights) |
| `compare` | a submission profile against a reference profile |
| `findings` | the model finding kinds |
| `stage` | the scan stage: find model directories among the walked files, profile, compare, report |
| `render` | the model section of the JSON and text reports |

numpy, scipy, ml_dtypes, sentencepiece and gguf are imported inside the functions that need them.
"""
