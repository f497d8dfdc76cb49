"""TorusML quickstart: a logistic regression trained in the clear, run on encrypted data.

Run with Debian's interpreter once the package is importable (./scripts/demo does both):
    /usr/bin/python3 python/examples/quickstart.py
"""

from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split

from torusml.sklearn import LogisticRegression

# A synthetic data set.
x, y = make_classification(n_samples=100, class_sep=2, n_features=4, random_state=42)
X_train, X_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=42)

# Train in the clear, with 2-bit quantization of the inputs and the weights.
model = LogisticRegression(n_bits=2)
model.fit(X_train, y_train)
y_pred_clear = model.predict(X_test)

# Compile to FHE (keys are generated here), then predict on encrypted inputs.
model.compile(x)
y_pred_fhe = model.predict(X_test, fhe="execute")

print("In clear  :", y_pred_clear)
print("In FHE    :", y_pred_fhe)
print("Comparison:", (y_pred_fhe == y_pred_clear))
