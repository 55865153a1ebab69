"""Audio in: decoding files (`decoding`) and batching many sources (`batches`)."""
