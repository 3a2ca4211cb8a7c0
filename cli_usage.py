"""The command line's parser refusals in Chinese: click says them in English, the rest of `starter.py` does not.

A wrong argument (missing, unknown, of the wrong type or not one of the choices) exits with code 2 and one line
that names it, and how to see the usage, as the command line's own refusals do.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from typer import Abort
from typer._click import core, exceptions
from typer._click.utils import echo
from typer.core import TyperArgument, TyperGroup, TyperOption

# typer carries its own click (`typer._click`); its parser raises these, not the `click` package's.

TYPE_LABEL: dict[object, str] = {int: "整数", float: "数字", bool: "是或否", Path: "路径"}


def _name(param: core.Parameter | None) -> str:
    if param is None:
        return "参数"
    if isinstance(param, TyperOption):
        return max(param.opts, key=len)
    return param.name or "参数"


def _bad_value(e: exceptions.BadParameter, args: list[str]) -> str:
    param = e.param
    name = _name(param)
    given = ""
    if isinstance(param, TyperOption):
        for i, arg in enumerate(args):
            if arg in param.opts and i + 1 < len(args):
                given = args[i + 1]
            elif arg.startswith(tuple(f"{o}=" for o in param.opts)):
                given = arg.split("=", 1)[1]
    desc = getattr(param, "type_descriptor", None)
    if desc is not None and desc.is_choice and desc.choices:
        choices = "、".join(str(getattr(c, "value", c)) for c in desc.choices)
        return f"{name} 的值无效：{given}（可选：{choices}）"
    kind = TYPE_LABEL.get(getattr(desc, "annotation", None), "")
    return f"{name} 的值无效：{given}" + (f"（须为{kind}）" if kind else "")


def message(e: exceptions.UsageError, args: list[str]) -> str:
    """The refusal in Chinese, with where to read the usage."""
    text = e.format_message()
    if isinstance(e, exceptions.MissingParameter):
        what = "参数" if isinstance(e.param, TyperArgument) else "选项"
        said = f"缺少{what}：{_name(e.param)}"
    elif isinstance(e, exceptions.BadParameter):
        said = _bad_value(e, args)
    elif isinstance(e, exceptions.NoSuchOption):
        maybe = f"（是否要用：{'、'.join(e.possibilities)}）" if e.possibilities else ""
        said = f"没有该选项：{e.option_name}{maybe}"
    elif isinstance(e, exceptions.BadOptionUsage) and "requires an argument" in text:
        said = f"选项 {e.option_name} 须带一个值"
    elif command := re.match(r"No such command '(.+)'", text):
        group = e.ctx.command if e.ctx else None
        names = group.list_commands(e.ctx) if isinstance(group, TyperGroup) and e.ctx else []
        said = f"没有该命令：{command.group(1)}（可选：{'、'.join(names)}）"
    elif extra := re.match(r"Got unexpected extra argument(?:\(s\)|s)? \((.+)\)", text):
        said = f"多余的参数：{extra.group(1)}"
    else:
        said = f"用法有误：{text}"
    where = e.ctx.command_path if e.ctx else "starter.py"
    return f"{said}\n用法：{where} --help"


class ChineseUsage(TyperGroup):
    """The root command: parses as typer does, and says what it refuses in Chinese."""

    def main(  # type: ignore[override]
        self,
        args: list[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        given = list(sys.argv[1:] if args is None else args)
        if not standalone_mode:
            return super().main(given, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(given, prog_name, complete_var, standalone_mode=False, **extra)
        except exceptions.NoArgsIsHelpError:
            return super().main(given, prog_name, complete_var, standalone_mode=True, **extra)  # the help, as before
        except exceptions.UsageError as e:
            echo(message(e, given), err=True)
            sys.exit(e.exit_code)
        except exceptions.ClickException as e:
            e.show()
            sys.exit(e.exit_code)
        except Abort:
            echo("已取消", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)
