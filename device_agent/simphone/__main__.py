"""``python -m device_agent.simphone --profile P --port N``: run one simulated phone until
interrupted. Bad options or profile: one line on stderr, exit code 2."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import tempfile

from device_agent.simphone.adbd import SimPhone
from device_agent.simphone.profile import DEFAULT_PROFILE, ProfileError, load_profile
from device_agent.simphone.state import Faults


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m device_agent.simphone",
                                 description="A simulated Android phone for the adb server.")
    ap.add_argument("--profile", default=str(DEFAULT_PROFILE), help="phone profile (.json/.yaml)")
    ap.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free)")
    ap.add_argument("--sandbox", help="host dir standing for /data/local/tmp (default: a temp dir)")
    ap.add_argument("--unplug-after-s", type=float, help="vanish this long into a binary run")
    ap.add_argument("--heat", type=float, default=0.0, help="degrees C gained per binary run")
    ap.add_argument("--slow-factor", type=float, default=1.0, help="runs last this many times longer")
    args = ap.parse_args(argv)
    try:
        profile = load_profile(args.profile)
        faults = Faults(args.unplug_after_s, args.heat, args.slow_factor)
    except (ProfileError, ValueError) as e:
        print(f"simphone: {e}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    sandbox = args.sandbox or tempfile.mkdtemp(prefix="simphone-")
    phone = SimPhone(profile, sandbox, faults, port=args.port)
    try:
        port = phone.start()
    except OSError as e:
        print(f"simphone: cannot listen on 127.0.0.1:{args.port}: {e.strerror}", file=sys.stderr)
        return 2
    print(f"simphone {profile.model} on 127.0.0.1:{port} sandbox {sandbox}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        phone.unplugged.wait()
    phone.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
