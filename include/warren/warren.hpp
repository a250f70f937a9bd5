#pragma once
// Every public warren header, for those who want one include. Internals (detail/) are not
// listed: they come in through the headers that use them.

#include <warren/buffer/error.hpp>
#include <warren/buffer/flow_queues.hpp>
#include <warren/buffer/packet_pool.hpp>
#include <warren/core/bytes.hpp>
#include <warren/core/clock.hpp>
#include <warren/core/error.hpp>
#include <warren/core/expected.hpp>
#include <warren/core/packet_buffer.hpp>
#include <warren/packet/checksum.hpp>
#include <warren/packet/dns.hpp>
#include <warren/packet/error.hpp>
#include <warren/packet/flow_key.hpp>
#include <warren/packet/icmpv4.hpp>
#include <warren/packet/icmpv6.hpp>
#include <warren/packet/ip_address.hpp>
#include <warren/packet/ip_packet.hpp>
#include <warren/packet/ip_protocol.hpp>
#include <warren/packet/ipv4.hpp>
#include <warren/packet/ipv6.hpp>
#include <warren/packet/tcp.hpp>
#include <warren/packet/udp.hpp>
#include <warren/tun/adapters/asio_device.hpp>
#include <warren/tun/error.hpp>
#include <warren/tun/fd_device.hpp>
#include <warren/tun/linux_tun.hpp>
#include <warren/tun/memory_pair.hpp>
#include <warren/tun/netlink.hpp>
#include <warren/tun/packet_device.hpp>
#include <warren/version.hpp>
