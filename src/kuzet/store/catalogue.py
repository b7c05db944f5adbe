"""The seven approved types of tracking equipment, each with its procedure (seed data).

Decree No. 1180 (7 November 2014) approves seven types; its text was not available, so the list follows
the neighbouring lists (DOMAIN.md section 1). It is data, editable by an administrator.
"""

from __future__ import annotations

from typing import Any

SEVEN_TYPES: list[dict[str, Any]] = [
    {
        "code": "gps_bracelet",
        "name_ru": "Электронный браслет с GPS",
        "name_kk": "GPS электрондық білезігі",
        "name_en": "GPS ankle bracelet",
        "procedure": {
            "fitting_checklist": ["identity checked", "strap closed and sealed", "test report received",
                                  "charging explained", "signed fitting record"],
            "check_interval_h": 24, "charging_rule": "charge daily, 2 hours",
            "reporting_interval_s": 60, "protocols": ["teltonika", "gt06", "kuzet"],
            "events": ["strap_open", "case_open", "battery_low", "jamming", "power_off"],
        },
    },
    {
        "code": "rf_bracelet",
        "name_ru": "Электронный браслет (радиочастотный)",
        "name_kk": "Радиожиілікті электрондық білезік",
        "name_en": "RF ankle tag",
        "procedure": {
            "fitting_checklist": ["identity checked", "strap closed", "paired with home unit",
                                  "signed fitting record"],
            "check_interval_h": 168, "charging_rule": "no charging; battery 9-12 months",
            "reporting_interval_s": 30, "protocols": ["kuzet"],
            "events": ["strap_open", "case_open", "battery_low"],
        },
    },
    {
        "code": "home_unit",
        "name_ru": "Стационарное контрольное устройство",
        "name_kk": "Стационарлық бақылау құрылғысы",
        "name_en": "Home monitoring unit",
        "procedure": {
            "fitting_checklist": ["installed at the registered address", "mains power connected",
                                  "tag in range", "signed installation record"],
            "check_interval_h": 168, "charging_rule": "mains power with backup battery",
            "reporting_interval_s": 300, "protocols": ["kuzet"],
            "events": ["case_open", "power_off", "power_on", "battery_low"],
        },
    },
    {
        "code": "mobile_tracker",
        "name_ru": "Мобильное контрольное устройство",
        "name_kk": "Мобильді бақылау құрылғысы",
        "name_en": "Mobile control device (carried tracker)",
        "procedure": {
            "fitting_checklist": ["paired with the bracelet", "test report received", "signed record"],
            "check_interval_h": 24, "charging_rule": "charge daily",
            "reporting_interval_s": 60, "protocols": ["gt06", "h02", "watch", "kuzet"],
            "events": ["case_open", "battery_low", "power_off", "sos"],
        },
    },
    {
        "code": "personal_tracker",
        "name_ru": "Персональный трекер",
        "name_kk": "Жеке трекер",
        "name_en": "Personal tracker",
        "procedure": {
            "fitting_checklist": ["identity checked", "test report received", "signed record"],
            "check_interval_h": 24, "charging_rule": "charge daily",
            "reporting_interval_s": 60, "protocols": ["osmand", "watch", "kuzet"],
            "events": ["battery_low", "power_off", "sos"],
        },
    },
    {
        "code": "relay",
        "name_ru": "Ретранслятор",
        "name_kk": "Ретранслятор",
        "name_en": "Relay",
        "procedure": {
            "fitting_checklist": ["installed", "link to the monitoring centre tested"],
            "check_interval_h": 720, "charging_rule": "mains power",
            "reporting_interval_s": 600, "protocols": ["kuzet"],
            "events": ["case_open", "power_off", "power_on"],
        },
    },
    {
        "code": "protected_person_device",
        "name_ru": "Устройство защищаемого лица",
        "name_kk": "Қорғалатын тұлғаның құрылғысы",
        "name_en": "Protected-person device",
        "procedure": {
            "fitting_checklist": ["handed over", "alarm explained", "test report received"],
            "check_interval_h": 24, "charging_rule": "charge daily",
            "reporting_interval_s": 60, "protocols": ["osmand", "kuzet"],
            "events": ["battery_low", "sos"],
        },
    },
]
