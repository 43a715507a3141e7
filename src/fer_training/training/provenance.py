"""What a model card records about the run that trained the model."""

import argparse
import platform


def command_line(program: str, args: argparse.Namespace, leave_out: tuple[str, ...]) -> str:
    """The training command as run, options sorted; paths and output settings left out."""
    def value(v) -> str:
        return " ".join(map(str, v)) if isinstance(v, list) else str(v)

    return program + " " + " ".join(f"--{k.replace('_', '-')} {value(v)}" for k, v in sorted(vars(args).items())
                                    if v is not None and k not in leave_out)


def machine() -> str:
    import keras

    return f"{platform.node()} {platform.machine()} keras-backend={keras.backend.backend()}"
