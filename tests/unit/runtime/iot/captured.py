"""MQTT bytes captured from real clients, kept as constants.

How they were captured: ``hubbub serve --mqtt-port 0`` ran the broker; a small TCP proxy on
127.0.0.1 between the client and the broker wrote down the bytes each way as hex. The clients:

- paho-mqtt 2.1.0, MQTT 3.1.1 and MQTT 5, client ids ``paho-4``/``paho-5``: user ``alice``,
  password ``s3cret``, will ``status/paho`` = ``gone`` (QoS 1), keep-alive 45, persistent session
  (MQTT 5: Session Expiry Interval 300); SUBSCRIBE ``room/+`` QoS 1 and ``desk/#`` QoS 0; PUBLISH
  ``room/lobby`` QoS 1 (MQTT 5 with a user property ``k=v`` and content type ``text/plain``);
  UNSUBSCRIBE ``desk/#``; DISCONNECT.
- Debian's mosquitto_pub 2.0.11 (``-i mosq-pub -t room/lobby -m "from mosquitto" -q 1``, and with
  ``-V mqttv5 -D publish user-property a b``) and mosquitto_sub (``-i mosq-sub -t 'room/#' -q 1``).

``*_C2S`` is what the client sent (possibly several packets per TCP read, so a stream), ``*_S2C``
what the broker answered.
"""

from __future__ import annotations

PAHO_311_C2S = bytes.fromhex(
    "103400044d51545404cc002d00067061686f2d34000b7374617475732f7061686f0004676f6e650005616c69"
    "63650006733363726574821400010006726f6f6d2f2b0100066465736b2f23003218000a726f6f6d2f6c6f62"
    "6279000268656c6c6f207633313140020001a20a000300066465736b2f23e000"
)

PAHO_311_S2C = bytes.fromhex(
    "200200009004000101003218000a726f6f6d2f6c6f626279000168656c6c6f207633313140020002b0020003"
)

PAHO_5_C2S = bytes.fromhex(
    "103b00044d51545405cc002d05110000012c00067061686f2d3500000b7374617475732f7061686f0004676f"
    "6e650005616c696365000673336372657482150001000006726f6f6d2f2b0100066465736b2f2300322b000a"
    "726f6f6d2f6c6f62627900021403000a746578742f706c61696e2600016b00017668656c6c6f207635400200"
    "01a20b00030000066465736b2f23e000"
)

PAHO_5_S2C = bytes.fromhex(
    "2018000015210064240125012700024000220008280129002a0090050001000100322b000a726f6f6d2f6c6f"
    "62627900011403000a746578742f706c61696e2600016b00017668656c6c6f20763540020002b00400030000"
)

MOSQUITTO_PUB_311_C2S = bytes.fromhex(
    "101400044d5154540402003c00086d6f73712d707562321c000a726f6f6d2f6c6f626279000166726f6d206d"
    "6f7371756974746fe000"
)

MOSQUITTO_PUB_311_S2C = bytes.fromhex("2002000040020001")

MOSQUITTO_PUB_5_C2S = bytes.fromhex(
    "101900044d5154540502003c0321001400096d6f73712d707562353226000a726f6f6d2f6c6f626279000107"
    "2600016100016266726f6d206d6f7371756974746f2035e000"
)

MOSQUITTO_PUB_5_S2C = bytes.fromhex("2018000015210064240125012700024000220008280129002a0040020001")

MOSQUITTO_SUB_311_C2S = bytes.fromhex(
    "101400044d5154540402003c00086d6f73712d737562820b00010006726f6f6d2f2301e000"
)

MOSQUITTO_SUB_311_S2C = bytes.fromhex("200200009003000101")
