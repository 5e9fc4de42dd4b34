"""hubbub: serverless real-time chat, run locally by an embedded AWS emulator or deployed with
SAM."""

__version__ = "0.1.0"
