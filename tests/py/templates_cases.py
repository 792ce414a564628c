"""Conversations rendered by every chat template in tests/py/test_templates.py.

Each case is what uma's `template --batch` reads: messages, tools, add_generation_prompt and
kwargs (extra template variables such as enable_thinking). They cover system prompts, multi-turn,
tool definitions, tool calls (arguments as dict and as JSON string), tool results, unicode and
characters that need escaping in JSON / HTML, and numbers that print differently as int / float.
"""

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city. Use it when asked about \"weather\".",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "City name, e.g. Paris"},
                "unit": {"type": "string", "description": "Temperature unit", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["location"],
        },
    },
}

SEARCH_TOOL = {
    "type": "function",
    "function": {
        "name": "search_docs",
        "description": "Search the documentation <index> & return the top hits.",
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "Free text query"},
                "limit": {"type": "integer", "description": "Max hits", "default": 5},
                "threshold": {"type": "number", "description": "Min score", "minimum": 0.0, "maximum": 1.5},
                "tags": {"type": "array", "description": "Tags to match", "items": {"type": "string"}},
                "filters": {
                    "type": "object",
                    "description": "Extra filters",
                    "properties": {"lang": {"type": "string"}, "exact": {"type": "boolean"}},
                },
            },
            "required": ["query", "limit"],
        },
    },
}

import json

SYSTEM = {"role": "system", "content": "You are a helpful assistant."}


def call(cid, name, args):
    return {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}


WEATHER_ARGS = {"location": "Paris", "unit": "celsius"}
SEARCH_ARGS = {"query": "mmap zero-copy", "limit": 3, "threshold": 0.5, "tags": ["gguf", "io"],
               "filters": {"lang": "en", "exact": False}, "extra": None, "ratio": 2.0}

CASES = [
    {"name": "system_user",
     "messages": [SYSTEM, {"role": "user", "content": "Hello! How are you?"}],
     "add_generation_prompt": True},
    {"name": "user_only_no_prompt",
     "messages": [{"role": "user", "content": "Write a haiku about GPUs."}],
     "add_generation_prompt": False},
    {"name": "multi_turn",
     "messages": [SYSTEM,
                  {"role": "user", "content": "What is 2+2?"},
                  {"role": "assistant", "content": "2+2 = 4."},
                  {"role": "user", "content": "And times 3?"}],
     "add_generation_prompt": True},
    {"name": "multi_turn_no_system_ends_assistant",
     "messages": [{"role": "user", "content": "Hi"},
                  {"role": "assistant", "content": "Hello, how can I help?"},
                  {"role": "user", "content": "Tell me a joke."},
                  {"role": "assistant", "content": "Why did the tensor break up? Too many dimensions."}],
     "add_generation_prompt": False},
    {"name": "unicode_and_escapes",
     "messages": [{"role": "system", "content": "Réponds en français. 日本語も OK. \"quoted\" <b>&amp;</b>"},
                  {"role": "user", "content": "Tab\there, newline\nthere, backslash \\ and emoji 🚀 'single'"}],
     "add_generation_prompt": True},
    {"name": "whitespace_content",
     "messages": [{"role": "user", "content": "  padded question  \n\n"},
                  {"role": "assistant", "content": "\n  padded answer \n"},
                  {"role": "user", "content": "ok"}],
     "add_generation_prompt": True},
    {"name": "tools_defined",
     "messages": [SYSTEM, {"role": "user", "content": "What's the weather in Paris?"}],
     "tools": [WEATHER_TOOL, SEARCH_TOOL],
     "add_generation_prompt": True,
     # firefunction-v2 reads its tool list and date from these variables.
     "kwargs": {"functions": json.dumps([WEATHER_TOOL["function"], SEARCH_TOOL["function"]], indent=2),
                "datetime": "2024-07-26"}},
    {"name": "tools_no_system",
     "messages": [{"role": "user", "content": "Find docs about mmap."}],
     "tools": [SEARCH_TOOL],
     "add_generation_prompt": True},
    {"name": "tool_call_dict_args",
     "messages": [SYSTEM,
                  {"role": "user", "content": "What's the weather in Paris?"},
                  {"role": "assistant", "content": "", "tool_calls": [call("call00001", "get_weather", WEATHER_ARGS)]},
                  {"role": "tool", "tool_call_id": "call00001", "name": "get_weather",
                   "content": "{\"temperature\": 21, \"sky\": \"clear\"}"},
                  {"role": "assistant", "content": "It is 21 °C and clear in Paris."},
                  {"role": "user", "content": "Thanks!"}],
     "tools": [WEATHER_TOOL],
     "add_generation_prompt": True},
    {"name": "tool_call_string_args",
     "messages": [{"role": "user", "content": "What's the weather in Paris?"},
                  {"role": "assistant", "content": None,
                   "tool_calls": [call("call00001", "get_weather", "{\"location\": \"Paris\", \"unit\": \"celsius\"}")]},
                  {"role": "tool", "tool_call_id": "call00001", "name": "get_weather", "content": "21 degrees"}],
     "tools": [WEATHER_TOOL],
     "add_generation_prompt": True},
    {"name": "parallel_tool_calls",
     "messages": [SYSTEM,
                  {"role": "user", "content": "Weather in Paris and docs about mmap, please."},
                  {"role": "assistant", "content": "Let me check both.",
                   "tool_calls": [call("callAAAAA", "get_weather", WEATHER_ARGS),
                                  call("callBBBBB", "search_docs", SEARCH_ARGS)]},
                  {"role": "tool", "tool_call_id": "callAAAAA", "name": "get_weather", "content": "sunny, 24"},
                  {"role": "tool", "tool_call_id": "callBBBBB", "name": "search_docs",
                   "content": "[{\"title\": \"mmap\", \"score\": 0.93}]"}],
     "tools": [WEATHER_TOOL, SEARCH_TOOL],
     "add_generation_prompt": True},
    {"name": "tool_call_then_answer_no_prompt",
     "messages": [{"role": "user", "content": "Search 'kv cache'"},
                  {"role": "assistant", "content": "",
                   "tool_calls": [call("call99999", "search_docs", {"query": "kv cache", "limit": 1})]},
                  {"role": "tool", "tool_call_id": "call99999", "name": "search_docs", "content": "paged blocks"},
                  {"role": "assistant", "content": "The KV cache is paged in blocks."}],
     "tools": [SEARCH_TOOL],
     "add_generation_prompt": False},
    {"name": "thinking_disabled",
     "messages": [{"role": "user", "content": "Quick: capital of Italy?"}],
     "add_generation_prompt": True,
     "kwargs": {"enable_thinking": False}},
    {"name": "thinking_history",
     "messages": [{"role": "user", "content": "Is 7 prime?"},
                  {"role": "assistant", "content": "<think>\nDivisors are 1 and 7.\n</think>\n\nYes, 7 is prime.",
                   "reasoning_content": "Divisors are 1 and 7."},
                  {"role": "user", "content": "And 9?"}],
     "add_generation_prompt": True,
     "kwargs": {"enable_thinking": True}},
    {"name": "content_parts",
     "messages": [{"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
                  {"role": "user", "content": [{"type": "text", "text": "Hello"},
                                               {"type": "text", "text": " world"}]}],
     "add_generation_prompt": True},
    {"name": "two_tool_rounds",
     "messages": [{"role": "user", "content": "Weather in Paris, then in Oslo."},
                  {"role": "assistant", "content": "",
                   "tool_calls": [call("c1c1c1c1c", "get_weather", {"location": "Paris"})]},
                  {"role": "tool", "tool_call_id": "c1c1c1c1c", "name": "get_weather", "content": "warm"},
                  {"role": "assistant", "content": "",
                   "tool_calls": [call("c2c2c2c2c", "get_weather", {"location": "Oslo", "unit": "celsius"})]},
                  {"role": "tool", "tool_call_id": "c2c2c2c2c", "name": "get_weather", "content": "cold"},
                  {"role": "assistant", "content": "Paris is warm; Oslo is cold."},
                  {"role": "user", "content": "Thanks."}],
     "tools": [WEATHER_TOOL],
     "add_generation_prompt": True,
     "kwargs": {"enable_thinking": False}},
]
