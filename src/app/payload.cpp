// Payloads, payload types and the names of the channel status enums.

#include <nexios/channels.hpp>

#include <nexios/detail/utf8.hpp>

#include <boost/json/serialize.hpp>

#include <stdexcept>

namespace nexios {

PayloadType::PayloadType(std::string_view name) {
  if (name == "json") {
    value_ = PayloadTypeEnum::JSON;
  } else if (name == "text") {
    value_ = PayloadTypeEnum::TEXT;
  } else if (name == "bytes") {
    value_ = PayloadTypeEnum::BYTES;
  } else {
    throw std::invalid_argument("payload type must be \"json\", \"text\" or \"bytes\", not \"" + std::string(name) +
                                "\"");
  }
}

std::string_view PayloadType::name() const noexcept {
  switch (value_) {
    case PayloadTypeEnum::JSON:
      return "json";
    case PayloadTypeEnum::TEXT:
      return "text";
    case PayloadTypeEnum::BYTES:
      return "bytes";
  }
  return "json";
}

const boost::json::value& Payload::json() const {
  if (kind_ != Kind::json) {
    throw std::logic_error("Payload::json(): this payload is not JSON");
  }
  return json_;
}

boost::json::value& Payload::json() {
  if (kind_ != Kind::json) {
    throw std::logic_error("Payload::json(): this payload is not JSON");
  }
  return json_;
}

const std::string& Payload::text() const {
  if (kind_ == Kind::json) {
    throw std::logic_error("Payload::text(): this payload is JSON (use json())");
  }
  return data_;
}

const boost::json::value& Payload::at(std::string_view key) const {
  // The key goes into a close reason (at most 123 bytes of UTF-8): keep a short, valid prefix.
  std::string shown(key.substr(0, 64));
  while (!shown.empty() && !detail::is_valid_utf8(shown)) {
    shown.pop_back();
  }
  if (kind_ != Kind::json || !json_.is_object()) {
    throw JsonKeyError(std::string(key), "expected a JSON object with the key '" + shown + "'");
  }
  if (const auto* v = json_.as_object().if_contains(key)) {
    return *v;
  }
  throw JsonKeyError(std::string(key), "JSON key '" + shown + "' is missing");
}

std::string Payload::serialize() const { return kind_ == Kind::json ? boost::json::serialize(json_) : data_; }

std::size_t Payload::size() const { return kind_ == Kind::json ? boost::json::serialize(json_).size() : data_.size(); }

bool operator==(const Payload& a, const Payload& b) noexcept {
  if (a.kind_ != b.kind_) {
    return false;
  }
  return a.kind_ == Payload::Kind::json ? a.json_ == b.json_ : a.data_ == b.data_;
}

std::string_view to_string(ChannelAddStatusEnum s) noexcept {
  switch (s) {
    case ChannelAddStatusEnum::CHANNEL_ADDED:
      return "CHANNEL_ADDED";
    case ChannelAddStatusEnum::CHANNEL_EXIST:
      return "CHANNEL_EXIST";
    case ChannelAddStatusEnum::CHANNEL_CLOSED:
      return "CHANNEL_CLOSED";
    case ChannelAddStatusEnum::INVALID_GROUP_NAME:
      return "INVALID_GROUP_NAME";
    case ChannelAddStatusEnum::GROUP_LIMIT_REACHED:
      return "GROUP_LIMIT_REACHED";
    case ChannelAddStatusEnum::GROUP_FULL:
      return "GROUP_FULL";
    case ChannelAddStatusEnum::CHANNEL_GROUP_LIMIT_REACHED:
      return "CHANNEL_GROUP_LIMIT_REACHED";
  }
  return "";
}

std::string_view to_string(ChannelRemoveStatusEnum s) noexcept {
  switch (s) {
    case ChannelRemoveStatusEnum::CHANNEL_REMOVED:
      return "CHANNEL_REMOVED";
    case ChannelRemoveStatusEnum::CHANNEL_DOES_NOT_EXIST:
      return "CHANNEL_DOES_NOT_EXIST";
    case ChannelRemoveStatusEnum::GROUP_REMOVED:
      return "GROUP_REMOVED";
    case ChannelRemoveStatusEnum::GROUP_DOES_NOT_EXIST:
      return "GROUP_DOES_NOT_EXIST";
  }
  return "";
}

std::string_view to_string(GroupSendStatusEnum s) noexcept {
  return s == GroupSendStatusEnum::GROUP_SEND ? "GROUP_SEND" : "NO_SUCH_GROUP";
}

}  // namespace nexios
