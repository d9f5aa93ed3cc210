package io.github.kubegrpclb.spring;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Turns a map bound from properties (every leaf a string, lists as maps with keys 0, 1, ...) into
 * the JSON values a policy's config parser expects: numbers, booleans, lists. Stateless.
 */
final class PropertyValues {
  private static final Pattern NUMBER = Pattern.compile("-?\\d+(\\.\\d+)?([eE][-+]?\\d+)?");
  private static final Pattern INDEX = Pattern.compile("\\d+");

  private PropertyValues() {}

  static Map<String, ?> json(Map<String, Object> properties) {
    Map<String, Object> out = new LinkedHashMap<>();
    properties.forEach((key, value) -> out.put(key, value(value)));
    return out;
  }

  private static Object value(Object value) {
    if (value instanceof Map<?, ?> map) {
      if (!map.isEmpty()
          && map.keySet().stream().allMatch(k -> INDEX.matcher(k.toString()).matches())) {
        List<Object> list = new ArrayList<>();
        for (int i = 0; i < map.size(); i++) {
          list.add(value(map.get(String.valueOf(i))));
        }
        return list;
      }
      Map<String, Object> out = new LinkedHashMap<>();
      map.forEach((k, v) -> out.put(k.toString(), value(v)));
      return out;
    }
    if (value instanceof List<?> list) {
      return list.stream().map(PropertyValues::value).toList();
    }
    if (value instanceof String text) {
      if (text.equals("true") || text.equals("false")) {
        return Boolean.valueOf(text);
      }
      if (NUMBER.matcher(text).matches()) {
        return Double.valueOf(text);
      }
    }
    return value;
  }
}
