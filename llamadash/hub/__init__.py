"""Models from the Hugging Face Hub: names, quant choice, the file tree, downloads, local files.

Beside the collectors in the layers: it may use the core, and only the commands use it. The Hub
client (``huggingface_hub``) is imported inside the functions that talk to the Hub, so the
CLI's light path never loads it.
"""
