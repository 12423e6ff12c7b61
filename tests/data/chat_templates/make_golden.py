#!/usr/bin/env python3
"""Golden outputs for test_chat_template (run by hand, not by CI; needs jinja2 >= 3.1).

Renders chat templates written in the style of real model families, and a few feature and
whitespace templates, with jinja2 set up as Hugging Face's apply_chat_template sets it up
(trim_blocks, lstrip_blocks, loopcontrols, a {% generation %} block, raise_exception, and tojson as
json.dumps(ensure_ascii=False)), and writes templates, inputs and outputs to golden.json beside this
script. The C++ test renders each case and compares the text exactly.

"chat" cases give messages as atman::ChatMessage (role, text, with_image); they are converted to HF
messages with the rule of atman/prompt.h (content parts when the template names a part type or
tests `content is string`, else a string with "<image>\\n" in front). "vars" cases give the template
variables directly.

    python3 tests/data/chat_templates/make_golden.py
"""
import datetime
import json
import pathlib

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension

HERE = pathlib.Path(__file__).resolve().parent


class Generation(Extension):
    """HF's {% generation %} ... {% endgeneration %}: renders its body (and tracks it, not here)."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


class TemplateError(Exception):
    pass


def raise_exception(message):
    raise TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


ENV = jinja2.Environment(trim_blocks=True, lstrip_blocks=True,
                         extensions=[Generation, "jinja2.ext.loopcontrols"])
ENV.filters["tojson"] = tojson
ENV.globals["raise_exception"] = raise_exception
# HF's global (Llama 3.2 asks for it when no date_string is given; the cases here all give one).
ENV.globals["strftime_now"] = lambda fmt: datetime.datetime.now().strftime(fmt)

PART_MARKERS = ["'image'", '"image"', "'text'", '"text"', "content is string",
                "content is not string", "content'] is string", "content'] is not string",
                'content"] is string', 'content"] is not string']


def takes_parts(template):
    return any(m in template for m in PART_MARKERS)


def hf_messages(template, messages):
    parts = takes_parts(template)
    out = []
    for m in messages:
        if parts:
            content = ([{"type": "image"}] if m.get("with_image") else []) + \
                      [{"type": "text", "text": m["text"]}]
        else:
            content = ("<image>\n" if m.get("with_image") else "") + m["text"]
        out.append({"role": m["role"], "content": content})
    return out


# ---- templates in the style of real families (written for this project) ----

LLAVA_HF = (
    "{% for message in messages %}{% if message['role'] != 'system' %}"
    "{{ message['role'].upper() + ': ' }}{% endif %}"
    "{# images first, then the text #}"
    "{% for part in message['content'] | selectattr('type', 'equalto', 'image') %}"
    "{{ '<image>\\n' }}{% endfor %}"
    "{% if message['role'] != 'assistant' %}"
    "{% for part in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{{ part['text'] + ' ' }}{% endfor %}"
    "{% else %}"
    "{% for part in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{% generation %}{{ part['text'] + ' ' }}{% endgeneration %}{% endfor %}"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}")

CHATML = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")

LLAMA2 = (
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
    "{% set system_message = messages[0]['content'] %}"
    "{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}"
    "{% for message in loop_messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}"
    "{% if loop.index0 == 0 and system_message != false %}"
    "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
    "{% else %}{% set content = message['content'] %}{% endif %}"
    "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' ' + content.strip() + ' ' + eos_token }}"
    "{% endif %}{% endfor %}")

LLAMA3 = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
    " + message['content'] | trim + '<|eot_id|>' %}"
    "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
    "{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
    "{% endif %}")

MISTRAL = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token }}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}"
    "{% endif %}{% endfor %}")

VICUNA = """{%- if messages[0]['role'] == 'system' -%}
    {%- set system_message = messages[0]['content'] -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set system_message = "A chat between a curious human and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the human's questions." -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{{ system_message }}
{%- for message in loop_messages %}
    {%- if message['role'] == 'user' %} USER: {{ message['content'] }}
    {%- elif message['role'] == 'assistant' %} ASSISTANT: {{ message['content'] }}{{ eos_token }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %} ASSISTANT:{% endif %}
"""

GEMMA = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}"
    "{{ raise_exception('System role not supported') }}{% endif %}"
    "{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}"
    "{% if (message['role'] == 'assistant') %}{% set role = 'model' %}"
    "{% else %}{% set role = message['role'] %}{% endif %}"
    "{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}")

QWEN2_VL = """{% set image_count = namespace(value=0) %}
{% for message in messages %}
    {% if loop.first and message['role'] != 'system' %}
<|im_start|>system
You are a helpful assistant.<|im_end|>
    {% endif %}
<|im_start|>{{ message['role'] }}
    {% if message['content'] is string %}
{{ message['content'] }}<|im_end|>
    {% else %}
        {% for part in message['content'] %}
            {% if part['type'] == 'image' or 'image' in part %}
                {% set image_count.value = image_count.value + 1 %}
                {% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}
<|vision_start|><image><|vision_end|>
            {%- elif part['type'] == 'text' %}
{{ part['text'] }}
            {%- endif %}
        {% endfor %}
<|im_end|>
    {% endif %}
{% endfor %}
{% if add_generation_prompt %}
<|im_start|>assistant
{% endif %}
"""

LLAMA31_TOOLS = """{{- bos_token }}
{%- if not date_string is defined %}
    {%- set date_string = "26 Jul 2024" %}
{%- endif %}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}
{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
{%- if tools is not none %}
    {{- "Environment: ipython\\n" }}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\\n" }}
{{- "Today Date: " + date_string + "\\n\\n" }}
{%- if tools is not none %}
    {{- "You have access to the following functions.\\n\\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\\n\\n" }}
    {%- endfor %}
{%- endif %}
{{- system_message }}
{{- "<|eot_id|>" }}
{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- elif 'tool_calls' in message %}
        {%- if not message.tool_calls|length == 1 %}
            {{- raise_exception("This model only supports single tool-calls at once!") }}
        {%- endif %}
        {%- set tool_call = message.tool_calls[0].function %}
        {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}
        {{- '{"name": "' + tool_call.name + '", ' }}
        {{- '"parameters": ' }}
        {{- tool_call.arguments | tojson }}
        {{- "}" }}
        {{- "<|eot_id|>" }}
    {%- else %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\\n\\n" }}
        {%- if message.content is mapping or message.content is iterable %}
            {{- message.content | tojson }}
        {%- else %}
            {{- message.content }}
        {%- endif %}
        {{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif %}
"""

HERMES_TOOLS = """{%- macro json_to_python_type(json_spec) %}
{%- set basic_type_map = {
    "string": "str",
    "number": "float",
    "integer": "int",
    "boolean": "bool"
} %}
{%- if basic_type_map[json_spec.type] is defined %}
    {{- basic_type_map[json_spec.type] }}
{%- elif json_spec.type == "array" %}
    {{- "list[" +  json_to_python_type(json_spec['items']) + "]" }}
{%- elif json_spec.type == "object" %}
    {%- if json_spec.additionalProperties is defined %}
        {{- "dict[str, " + json_to_python_type(json_spec.additionalProperties) + ']' }}
    {%- else %}
        {{- "dict" }}
    {%- endif %}
{%- elif json_spec.type is iterable %}
    {{- "Union[" }}
    {%- for t in json_spec.type %}
        {{- json_to_python_type({"type": t}) }}
        {%- if not loop.last %}
            {{- "," }}
        {%- endif %}
    {%- endfor %}
    {{- "]" }}
{%- else %}
    {{- "Any" }}
{%- endif %}
{%- endmacro %}
{{- bos_token }}
{{- '<|im_start|>system\nFunctions:\n' }}
{%- for tool in tools %}
    {%- set tool = tool.function if tool.function is defined else tool %}
    {{- tool.name + '(' }}
    {%- for param_name, param_fields in tool.parameters.properties|items %}
        {{- param_name + ": " + json_to_python_type(param_fields) }}
        {%- if not loop.last %}
            {{- ", " }}
        {%- endif %}
    {%- endfor %}
    {{- ")" }}
    {%- if tool.return is defined %}
        {{- " -> " + json_to_python_type(tool.return) }}
    {%- endif %}
    {{- " - " + tool.description + "\n" }}
{%- endfor %}
{{- '<|im_end|>\n' }}
{%- for message in messages %}
    {%- if message.role == "user" or message.role == "system" or (message.role == "assistant" and message.tool_calls is not defined) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- for tool_call in message.tool_calls %}
            {{- '\n<tool_call>\n' }}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '{' }}
            {{- '"name": "' }}
            {{- tool_call.name }}
            {{- '"' }}
            {%- if tool_call.arguments is defined %}
                {{- ', ' }}
                {{- '"arguments": ' }}
                {{- tool_call.arguments|tojson }}
            {%- endif %}
            {{- '}' }}
            {{- '\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if loop.previtem and loop.previtem.role != "tool" %}
            {{- '<|im_start|>tool\n' }}
        {%- endif %}
        {{- '<tool_response>\n' }}
        {{- message.content }}
        {%- if not loop.last %}
            {{- '\n</tool_response>\n' }}
        {%- else %}
            {{- '\n</tool_response>' }}
        {%- endif %}
        {%- if not loop.last and loop.nextitem.role != "tool" %}
            {{- '<|im_end|>' }}
        {%- elif loop.last %}
            {{- '<|im_end|>' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
"""

# ---- feature and whitespace templates ----

FEATURES = """{# values print as Python's str() #}
{{ 1.5 }}|{{ 10 / 4 }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ -7 % 3 }}|{{ 2 ** 10 }}|{{ 1e-5 }}|{{ 2 ** 0.5 }}|{{ 123456789012345678.0 }}|{{ 3 * 1.0 }}
{{ [1, 'a', none, true, 1.0, "it's"] }}|{{ {'k': 'v', 'n': [1, 2]} }}|{{ none }}|{{ false }}|{{ missing }}|
{{ 'ab' ~ 3 ~ none }}|{{ 'x' * 3 }}|{{ [1] + [2, 3] }}|{{ 'abc'[1:] }}|{{ 'abcdef'[::-2] }}|{{ [1, 2, 3][-1] }}|{{ [1, 2, 3, 4][1:-1] }}
{{ 'Hello World'.upper() }}|{{ ' pad '.strip() }}|{{ 'a,b,,c'.split(',') }}|{{ ' x  y '.split() }}|{{ 'hello world'.title() }}|{{ 'abc'.startswith('ab') }}|{{ 'abc'.endswith(('x', 'c')) }}|{{ 'aaa'.replace('a', 'b', 2) }}|{{ 'xxhixx'.strip('x') }}
{{ '  t  ' | trim }}|{{ [3, 1, 2] | length }}|{{ 'héllo' | length }}|{{ 'abc' | upper }}|{{ 'ABC' | lower }}|{{ ['a', 'b'] | join('-') }}|{{ [4, 5] | first }}|{{ [4, 5] | last }}|{{ missing | default('dflt') }}|{{ '' | default('dflt', true) }}
{{ users | selectattr('admin') | map(attribute='name') | join(', ') }}|{{ users | rejectattr('admin') | map(attribute='name') | list }}|{{ users | selectattr('age', 'defined') | map(attribute='age') | list }}|{{ users | map(attribute='age', default=0) | list }}
{{ 'word' | capitalize }}|{{ 'a-b c(d' | title }}|{{ 42 | string }}|{{ '12' | int + 1 }}|{{ 'x' | int(7) }}|{{ 3.9 | int }}|{{ 'ab' | replace('a', 'z') }}|{{ {'b': 1, 'a': [1, 'é\\n']} | tojson }}|{{ {'b': 1, 'a': 2} | tojson(sort_keys=true) }}
{{ [3, 1, 2] | sort | list }}|{{ ['b', 'A', 'c'] | sort }}|{{ [1, 2, 2, 1] | unique | list }}|{{ [1, 2, 3] | reverse | list }}|{% for k, v in {'a': 1} | items %}{{ k }}{{ v }}{% endfor %}|{{ [1, 2] | sum }}|{{ 'a\\nb' | indent(2, true) }}
{{ 4 is divisibleby 2 }}|{{ 3 is odd }}|{{ 3 is even }}|{{ {} is mapping }}|{{ 'x' is string }}|{{ [] is sequence }}|{{ 1 is number }}|{{ none is none }}|{{ false is sameas false }}|{{ missing is defined }}|{{ missing is not defined }}|{{ 'A' is upper }}|{{ 2 is in [1, 2] }}|{{ 3 is equalto 3 }}
{{ 'b' in 'abc' }}|{{ 2 not in [1, 2] }}|{{ 'k' in {'k': 1} }}|{{ 1 == 1.0 }}|{{ 'a' < 'b' }}|{{ not none }}|{{ 0 or 'x' }}|{{ 1 and 'y' }}|{{ 'yes' if 1 > 2 else 'no' }}|{{ 'shown' if true }}|{{ 'hidden' if false }}|
{% set ns = namespace(total=0, names=[]) %}
{% for u in users if u.name != 'carl' %}
{{ loop.index }}/{{ loop.length }} {{ u['name'] }}{{ ',' if not loop.last }} first={{ loop.first }} prev={{ loop.previtem.name if loop.previtem is defined else '-' }}
{% set ns.total = ns.total + loop.index0 %}
{% set ns.names = ns.names + [u.name] %}
{% set local = 'dropped' %}
{% endfor %}
total={{ ns.total }} names={{ ns.names }} local={{ local }}
{% for x in [] %}never{% else %}empty-else{% endfor %}
{% for k, v in {'one': 1, 'two': 2}.items() %}{{ k }}={{ v }};{% endfor %}
{% for k in {'p': 1, 'q': 2} %}{{ k }}{% endfor %}|{% for c in 'hé' %}[{{ c }}]{% endfor %}
{% for i in range(10) %}{% if i == 5 %}{% break %}{% endif %}{% if i is odd %}{% continue %}{% endif %}{{ i }}{% endfor %}
{% for i in range(2, 11, 3) %}{{ i }},{% endfor %}|{{ range(3) | list }}
{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}
{{ greet('Ann') }} {{ greet('Bob', punct='?') }} {{ greet(name='Cy') }}
{% set block_text %}
  inside {{ 1 + 1 }}
{% endset %}
[{{ block_text }}]
{% if users | length > 2 %}many{% elif users %}some{% else %}none{% endif %}
{{ d.get('a') }}|{{ d.get('zz', 'fallback') }}|{{ d.keys() | list }}|{{ d.values() | list }}|{{ d['a'] }}|{{ d.a }}|{{ d.missing }}|{{ users[0].name }}|{{ users.0.name }}
"""

WHITESPACE = """Line one
    {% if true %}
    indented text
    {% endif %}
  {# an indented comment #}
text {% if true %}inline{% endif %} more
{%+ if true %}kept indent{% endif %}

  {{- ' pulled' }}
{{ 'pushed' -}}
     after
  {%- if true -%}
    tight
  {%- endif %}
{% for i in [1, 2] %}
  - item {{ i }}
{% endfor %}
{% for i in [1, 2] -%}
  {{ i }}
{%- endfor %}
end
"""

CRLF = "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\nc\r\n"

# ---- messages ----

USER_Q = [{"role": "user", "text": "What is in the picture?", "with_image": False}]
USER_IMG = [{"role": "user", "text": "What is in the picture?", "with_image": True}]
SYS_USER = [{"role": "system", "text": "Answer briefly."},
            {"role": "user", "text": "Where does the dog live?"}]
DIALOGUE = [{"role": "user", "text": "Hi there!", "with_image": True},
            {"role": "assistant", "text": " Hello, how can I help? "},
            {"role": "user", "text": "Describe it  "}]
SYS_DIALOGUE = [{"role": "system", "text": "You are terse."}] + DIALOGUE
BAD_ORDER = [{"role": "user", "text": "one"}, {"role": "user", "text": "two"}]
EMPTY_Q = [{"role": "user", "text": "", "with_image": True}]
UNICODE = [{"role": "user", "text": "Qu'est-ce que c'est ? «日本» \"quoted\"\n\tnew line"}]

SPECIAL = {"bos_token": "<s>", "eos_token": "</s>"}
LLAMA3_SPECIAL = {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}
GEMMA_SPECIAL = {"bos_token": "<bos>", "eos_token": "<eos>"}


# The chat templates real checkpoints ship, verbatim, one file each in families/ (see README.md
# there for where each came from), with the special tokens of their tokenizer_config.json.
FAMILIES = HERE / "families"
REAL_FAMILIES = [
    ("llama-3.1", {**LLAMA3_SPECIAL}),
    ("llama-3.2", {**LLAMA3_SPECIAL, "date_string": "26 Jul 2024"}),
    ("qwen2.5", {"eos_token": "<|im_end|>"}),
    ("qwen3", {"eos_token": "<|im_end|>"}),
    ("mistral-nemo", SPECIAL),
    ("gemma-2", GEMMA_SPECIAL),
    ("gemma-3", GEMMA_SPECIAL),
    ("phi-3.5", {"bos_token": "<s>", "eos_token": "<|endoftext|>"}),
    ("smollm2", {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>"}),
    ("olmo-2", {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>"}),
]


def real_template(name):
    return (FAMILIES / f"{name}.jinja").read_text(encoding="utf-8")


def chat_case(name, template, messages, add_generation_prompt=True, extra=None):
    extra = extra or {}
    variables = {"messages": hf_messages(template, messages),
                 "add_generation_prompt": add_generation_prompt,
                 "tools": None, "documents": None, **extra}
    case = {"name": name, "template": template,
            "chat": {"messages": messages, "add_generation_prompt": add_generation_prompt,
                     "extra": extra}}
    return finish(case, template, variables)


def vars_case(name, template, variables):
    case = {"name": name, "template": template, "vars": variables}
    return finish(case, template, variables)


def finish(case, template, variables):
    try:
        case["expected"] = ENV.from_string(template).render(**variables)
    except TemplateError as e:
        case["error"] = str(e)
    return case


WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}


def real_family_cases(cases):
    """The branches of the real templates that one user message never reaches."""
    qwen3 = real_template("qwen3")
    im_end = {"eos_token": "<|im_end|>"}
    # Reasoning in an earlier assistant turn is dropped; after the last user query it is kept,
    # whether written inline (<think>...</think>) or given as reasoning_content.
    cases.append(vars_case("real/qwen3/thinking_history", qwen3, {
        "messages": [{"role": "system", "content": "Be brief."},
                     {"role": "user", "content": "2+2?"},
                     {"role": "assistant", "content": "<think>\nadd them\n</think>\n\n4"},
                     {"role": "user", "content": "and 3+3?"}],
        "add_generation_prompt": True, **im_end}))
    cases.append(vars_case("real/qwen3/thinking_after_last_query", qwen3, {
        "messages": [{"role": "user", "content": "2+2?"},
                     {"role": "assistant", "content": "<think>\n\nadd them\n</think>\n\n\n4"}],
        "add_generation_prompt": False, **im_end}))
    cases.append(vars_case("real/qwen3/reasoning_content", qwen3, {
        "messages": [{"role": "user", "content": "2+2?"},
                     {"role": "assistant", "content": "4", "reasoning_content": "\nsum\n"},
                     {"role": "assistant", "content": "Done."}],
        "add_generation_prompt": False, **im_end}))
    cases.append(vars_case("real/qwen3/enable_thinking_false", qwen3, {
        "messages": [{"role": "user", "content": "Hi"}],
        "add_generation_prompt": True, "enable_thinking": False, **im_end}))
    cases.append(vars_case("real/qwen3/tools", qwen3, {
        "messages": [{"role": "system", "content": "Use tools."},
                     {"role": "user", "content": "Weather in Paris?"},
                     {"role": "assistant", "content": "",
                      "tool_calls": [{"type": "function", "function": {
                          "name": "get_weather", "arguments": {"city": "Paris"}}},
                                     {"function": {"name": "get_weather",
                                                   "arguments": "{\"city\": \"Nice\"}"}}]},
                     {"role": "tool", "content": "21 C"},
                     {"role": "tool", "content": "25 C"},
                     {"role": "user", "content": "<tool_response>late</tool_response>"}],
        "tools": [WEATHER_TOOL], "add_generation_prompt": True, **im_end}))
    qwen25 = real_template("qwen2.5")
    cases.append(vars_case("real/qwen2.5/tools", qwen25, {
        "messages": [{"role": "user", "content": "Weather in Paris?"},
                     {"role": "assistant", "content": "Checking.",
                      "tool_calls": [{"function": {"name": "get_weather",
                                                   "arguments": {"city": "Paris"}}}]},
                     {"role": "tool", "content": "21 C"}],
        "tools": [WEATHER_TOOL], "add_generation_prompt": True, **im_end}))
    llama32 = real_template("llama-3.2")
    cases.append(vars_case("real/llama-3.2/tools", llama32, {
        "messages": [{"role": "system", "content": " Be brief. "},
                     {"role": "user", "content": "Weather in Paris?"},
                     {"role": "assistant", "tool_calls": [{"function": {
                         "name": "get_weather", "arguments": {"city": "Paris"}}}]},
                     {"role": "ipython", "content": {"temp": 21}},
                     {"role": "tool", "content": "sunny"}],
        "tools": [WEATHER_TOOL], "add_generation_prompt": True,
        "bos_token": "<|begin_of_text|>", "date_string": "01 Jan 2025"}))
    cases.append(vars_case("real/llama-3.1/builtin_tools", real_template("llama-3.1"), {
        "messages": [{"role": "user", "content": "Search cats"},
                     {"role": "assistant", "tool_calls": [{"function": {
                         "name": "brave_search", "arguments": {"query": "cats"}}}]}],
        "builtin_tools": ["brave_search", "code_interpreter", "wolfram_alpha"],
        "tools_in_user_message": False, "add_generation_prompt": False,
        "bos_token": "<|begin_of_text|>"}))
    nemo = real_template("mistral-nemo")
    cases.append(vars_case("real/mistral-nemo/tools", nemo, {
        "messages": [{"role": "system", "content": "Be brief."},
                     {"role": "user", "content": "Weather in Paris?"},
                     {"role": "assistant", "tool_calls": [{"id": "abcdef123", "function": {
                         "name": "get_weather", "arguments": {"city": "Paris"}}}]},
                     {"role": "tool", "tool_call_id": "abcdef123", "content": {"content": 21}},
                     {"role": "assistant", "content": "21 C."},
                     {"role": "user", "content": "Thanks"}],
        "tools": [WEATHER_TOOL], "add_generation_prompt": True, **SPECIAL}))
    cases.append(vars_case("real/mistral-nemo/bad_tool_id", nemo, {
        "messages": [{"role": "user", "content": "Hi"},
                     {"role": "assistant", "tool_calls": [{"id": "short", "function": {
                         "name": "get_weather", "arguments": {}}}]}],
        "add_generation_prompt": True, **SPECIAL}))
    gemma3 = real_template("gemma-3")
    cases.append(vars_case("real/gemma-3/system_parts_and_image", gemma3, {
        "messages": [{"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
                     {"role": "user", "content": [{"type": "image"},
                                                  {"type": "text", "text": "  What is it? "}]}],
        "add_generation_prompt": True, **GEMMA_SPECIAL}))
    cases.append(vars_case("real/gemma-3/invalid_content", gemma3, {
        "messages": [{"role": "user", "content": 42}],
        "add_generation_prompt": True, **GEMMA_SPECIAL}))
    cases.append(vars_case("real/phi-3.5/empty_system", real_template("phi-3.5"), {
        "messages": [{"role": "system", "content": ""}, {"role": "user", "content": "Hi"}],
        "add_generation_prompt": False, "eos_token": "<|endoftext|>"}))


def main():
    cases = []
    families = [("llava_hf", LLAVA_HF, {}), ("chatml", CHATML, {}), ("llama2", LLAMA2, SPECIAL),
                ("llama3", LLAMA3, LLAMA3_SPECIAL), ("mistral", MISTRAL, SPECIAL),
                ("vicuna", VICUNA, SPECIAL), ("gemma", GEMMA, GEMMA_SPECIAL),
                ("qwen2_vl", QWEN2_VL, {}), ("llama31_tools", LLAMA31_TOOLS, LLAMA3_SPECIAL)]
    inputs = [("question", USER_Q), ("image", USER_IMG), ("system", SYS_USER),
              ("dialogue", DIALOGUE), ("system_dialogue", SYS_DIALOGUE),
              ("bad_order", BAD_ORDER), ("empty_question", EMPTY_Q), ("unicode", UNICODE)]
    for family, template, special in families:
        for label, messages in inputs:
            cases.append(chat_case(f"{family}/{label}", template, messages, True, special))
        cases.append(chat_case(f"{family}/dialogue_no_generation_prompt", template, DIALOGUE,
                               False, special))
    cases.append(chat_case("qwen2_vl/vision_ids", QWEN2_VL, DIALOGUE + USER_IMG, True,
                           {"add_vision_id": True}))

    for family, special in REAL_FAMILIES:
        template = real_template(family)
        for label, messages in inputs:
            cases.append(chat_case(f"real/{family}/{label}", template, messages, True, special))
        cases.append(chat_case(f"real/{family}/dialogue_no_generation_prompt", template, DIALOGUE,
                               False, special))
    real_family_cases(cases)

    tools = [{"type": "function", "function": {
        "name": "get_weather", "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]}}}]
    tool_messages = [
        {"role": "system", "content": "  Use tools.  "},
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "tool_calls": [{"type": "function", "function": {
            "name": "get_weather", "arguments": {"city": "Paris"}}}]},
        {"role": "tool", "content": {"temperature": 21.5, "unit": "°C"}},
        {"role": "tool", "content": "sunny"},
    ]
    cases.append(vars_case("llama31_tools/tools", LLAMA31_TOOLS, {
        "messages": tool_messages, "tools": tools, "add_generation_prompt": True,
        "bos_token": "<|begin_of_text|>", "date_string": "01 Jan 2025"}))
    hermes_tools = [{"type": "function", "function": {
        "name": "search", "description": "Search the web.",
        "parameters": {"type": "object", "properties": {
            "query": {"type": "string"}, "limit": {"type": "integer"},
            "filters": {"type": "array", "items": {"type": ["string", "number"]}},
            "meta": {"type": "object", "additionalProperties": {"type": "boolean"}},
            "raw": {"type": "object"}}},
        "return": {"type": "array", "items": {"type": "object"}}}}]
    cases.append(vars_case("hermes_tools/tools", HERMES_TOOLS, {
        "messages": [{"role": "user", "content": "Find cats"},
                     {"role": "assistant", "tool_calls": [{"function": {
                         "name": "search", "arguments": {"query": "cats", "limit": 3}}}]},
                     {"role": "tool", "content": "[1, 2, 3]"},
                     {"role": "tool", "content": "done"},
                     {"role": "assistant", "content": "Found three."}],
        "tools": hermes_tools, "add_generation_prompt": True, "bos_token": "<s>"}))
    cases.append(vars_case("features", FEATURES, {
        "users": [{"name": "ann", "admin": True, "age": 31}, {"name": "bob", "admin": False},
                  {"name": "carl", "admin": True, "age": 40}, {"name": "dee", "admin": False}],
        "d": {"a": 1, "b": [2, 3]}}))
    cases.append(vars_case("whitespace", WHITESPACE, {}))
    cases.append(vars_case("crlf", CRLF, {}))

    out = HERE / "golden.json"
    out.write_text(json.dumps({"generator": "make_golden.py with jinja2 " + jinja2.__version__,
                               "cases": cases}, ensure_ascii=False, indent=1) + "\n",
                   encoding="utf-8")
    print(f"{len(cases)} cases -> {out}")


if __name__ == "__main__":
    main()
