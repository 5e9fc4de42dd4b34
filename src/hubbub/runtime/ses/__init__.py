"""Amazon SES for the template's functions: moto's SES behind a recorder that keeps each email
sent in the data dir (``service.py``), and the pure reading of SES requests (``requests.py``)."""
