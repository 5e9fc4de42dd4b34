"""hubbub's web client: static pages and ``hubbub.js``, and the routes that serve them locally."""
