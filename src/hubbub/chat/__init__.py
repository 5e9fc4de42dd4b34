"""Domain services of hubbub. Pure: they talk only to the Store, Push and Clock ports."""
