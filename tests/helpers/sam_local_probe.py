"""What `sam local invoke FUNCTION` would run, resolved by the SAM CLI's own code (no container engine needed).

    .venv-sam/bin/python tests/helpers/sam_local_probe.py PROJECT

From PROJECT, as `sam local invoke` started there: the template samconfig.toml names for
`local invoke` (else SAM's default search), each function's code folder (mounted at
/var/task), handler and runtime, and the environment SAM sets in the container. Prints
them as JSON. Runs on the SAM CLI's interpreter, not the project's.
"""

import json
import os
import sys

from samcli.commands._utils.constants import DEFAULT_BUILT_TEMPLATE_PATH
from samcli.lib.config.samconfig import SamConfig
from samcli.lib.providers.sam_function_provider import SamFunctionProvider
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider
from samcli.lib.utils.codeuri import resolve_code_path
from samcli.local.lambdafn.env_vars import EnvironmentVariables


def main(project: str) -> None:
    os.chdir(project)
    parameters = SamConfig(project).get_all(["local", "invoke"], "parameters")
    template = os.path.abspath(parameters.get("template_file") or DEFAULT_BUILT_TEMPLATE_PATH)
    stacks, _ = SamLocalStackProvider.get_stacks(template)
    functions = {}
    for function in SamFunctionProvider(stacks).get_all():
        variables = (function.environment or {}).get("Variables")
        environment = EnvironmentVariables(
            function.name, function.memory, function.timeout, function.handler, variables=variables, shell_env_values={}
        ).resolve()
        functions[function.name] = {
            "code": resolve_code_path(os.path.dirname(template), function.codeuri),
            "handler": function.handler,
            "runtime": function.runtime,
            "environment": environment,
        }
    print(json.dumps({"template": template, "functions": functions}))


if __name__ == "__main__":
    main(sys.argv[1])
