using System.Buffers;
using System.Buffers.Binary;
using Capture.Interop;
using Capture.Packets;
using Capture.Rtp;
using Capture.Sip;
using Capture.Skinny;

namespace Fuzz.Seeds;

/// <summary>
/// Seed inputs cut from the real captures of <c>../shared/captures</c>: frames, SIP payloads and SDP bodies, TCP streams
/// (SIP and Skinny, per direction, in sequence order), single Skinny messages, RTP flows, and small pcaps that keep a
/// capture's signalling and the start of each media flow. Nothing is written to the repository: seeds are made at start.
/// </summary>
internal sealed class SeedCorpus
{
    private const int SkinnyPort = 2000;
    private const int MaxStream = 16 * 1024;
    private const int MaxPcap = 60 * 1024;
    private const int MediaPacketsPerFlowInPcap = 12;

    public List<(string Capture, int LinkType, List<(long Ts, byte[] Frame)> Frames)> Captures { get; } = [];

    public List<byte[]> SipPayloads { get; } = [];

    public List<byte[]> SdpBodies { get; } = [];

    public List<byte[]> SipStreams { get; } = [];

    public List<byte[]> SkinnyStreams { get; } = [];

    public List<byte[]> SkinnyMessages { get; } = [];

    /// <summary>Skinny connections as captured: each segment with payload, its direction and time, retransmissions left out.</summary>
    public List<List<(bool FromPhone, long Ts, byte[] Payload)>> SkinnyConnections { get; } = [];

    /// <summary>RTP datagrams of one UDP 5-tuple in arrival order, with their capture time, each with its direction (0 or 1).</summary>
    public List<List<(int Direction, long Ts, byte[] Datagram)>> RtpFlows { get; } = [];

    public List<byte[]> SmallPcaps { get; } = [];

    public static SeedCorpus Load(string capturesDirectory)
    {
        var corpus = new SeedCorpus();
        if (!Directory.Exists(capturesDirectory))
        {
            throw new DirectoryNotFoundException($"captures folder {capturesDirectory} not found (the seeds come from ../shared/captures)");
        }

        foreach (string file in Directory.EnumerateFiles(capturesDirectory).Where(f => f.EndsWith(".pcap", StringComparison.Ordinal) || f.EndsWith(".pcapng", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            corpus.AddCapture(file);
        }

        return corpus;
    }

    private void AddCapture(string file)
    {
        var frames = new List<(long, byte[])>();
        int linkType;
        using (PcapSource source = PcapSource.OpenOffline(file))
        {
            linkType = source.LinkType;
            while (source.ReadNext(out long ts, out _, out ReadOnlySpan<byte> frame) == PcapReadStatus.Packet)
            {
                frames.Add((ts, frame.ToArray()));
            }
        }

        Captures.Add((Path.GetFileName(file), linkType, frames));
        var decoder = new FrameDecoder();
        var tcp = new Dictionary<TcpFlowKey, SortedDictionary<uint, byte[]>>();
        var udp = new Dictionary<(IpEndpoint16, IpEndpoint16), List<(int, long, byte[])>>();
        var skinny = new Dictionary<IpEndpoint16, List<(bool, long, byte[])>>(); // by the phone's endpoint
        var skinnySeen = new HashSet<(TcpFlowKey, uint)>();
        var keep = new List<(long Ts, byte[] Frame)>();
        var mediaInPcap = new Dictionary<(IpEndpoint16, IpEndpoint16), int>();
        foreach ((long ts, byte[] frame) in frames)
        {
            if (decoder.Decode(linkType, ts, frame, out DecodedPacket packet, out _) != DecodeResult.Packet)
            {
                keep.Add((ts, frame)); // fragments and what the decoder drops: the pipeline should see those too
                continue;
            }

            ReadOnlySpan<byte> payload = packet.Payload;
            bool signalling;
            if (packet.Protocol == TransportProtocol.Tcp)
            {
                signalling = true;
                if (payload.Length > 0)
                {
                    var key = new TcpFlowKey(packet.Source, packet.Destination);
                    if (!tcp.TryGetValue(key, out SortedDictionary<uint, byte[]>? segments))
                    {
                        tcp[key] = segments = [];
                    }

                    segments.TryAdd(packet.TcpSequence, payload.ToArray());
                    bool fromPhone = packet.Destination.Port == SkinnyPort;
                    if ((fromPhone || packet.Source.Port == SkinnyPort) && skinnySeen.Add((key, packet.TcpSequence)))
                    {
                        IpEndpoint16 phone = fromPhone ? packet.Source : packet.Destination;
                        if (!skinny.TryGetValue(phone, out List<(bool, long, byte[])>? connection))
                        {
                            skinny[phone] = connection = [];
                        }

                        connection.Add((fromPhone, ts, payload.ToArray()));
                    }
                }
            }
            else if (SipSniffer.LooksLikeSip(payload))
            {
                signalling = true;
                AddSip(payload);
            }
            else
            {
                signalling = false;
                if (RtpPacket.TryRead(payload, out _, out _) == OperationStatus.Done)
                {
                    (IpEndpoint16, IpEndpoint16) forward = (packet.Source, packet.Destination);
                    (IpEndpoint16, IpEndpoint16) backward = (packet.Destination, packet.Source);
                    int direction = udp.ContainsKey(backward) ? 1 : 0;
                    if (!udp.TryGetValue(direction == 0 ? forward : backward, out List<(int, long, byte[])>? flow))
                    {
                        udp[forward] = flow = [];
                    }

                    if (flow.Count < 400)
                    {
                        flow.Add((direction, ts, payload.ToArray()));
                    }
                }
            }

            var media = (packet.Source, packet.Destination);
            if (signalling || CountAndIncrement(mediaInPcap, media) < MediaPacketsPerFlowInPcap)
            {
                keep.Add((ts, frame));
            }
        }

        foreach ((TcpFlowKey key, SortedDictionary<uint, byte[]> segments) in tcp)
        {
            byte[] stream = Concatenate(segments.Values);
            if (key.Source.Port == SkinnyPort || key.Destination.Port == SkinnyPort)
            {
                SkinnyStreams.Add(stream);
                AddSkinnyMessages(stream);
            }
            else if (SipStreamFramer.MayStartSip(stream) || SipSniffer.LooksLikeSip(stream))
            {
                SipStreams.Add(stream);
                foreach (byte[] segment in segments.Values)
                {
                    if (SipSniffer.LooksLikeSip(segment))
                    {
                        AddSip(segment);
                    }
                }
            }
        }

        SkinnyConnections.AddRange(skinny.Values);
        foreach (List<(int, long, byte[])> flow in udp.Values.Where(f => f.Count >= 4))
        {
            RtpFlows.Add(flow);
        }

        SmallPcaps.Add(PcapFile.Write(linkType, keep, MaxPcap));
    }

    private static int CountAndIncrement(Dictionary<(IpEndpoint16, IpEndpoint16), int> counts, (IpEndpoint16, IpEndpoint16) key)
    {
        counts.TryGetValue(key, out int n);
        counts[key] = n + 1;
        return n;
    }

    private void AddSip(ReadOnlySpan<byte> payload)
    {
        if (SipPayloads.Count < 400)
        {
            SipPayloads.Add(payload.ToArray());
        }

        if (SipMessage.TryRead(payload, out SipMessage message, out _) == OperationStatus.Done
            && message.TryGetHeader("Content-Type"u8, out ReadOnlySpan<byte> contentType)
            && SipBody.TryFindSdp(contentType, message.Body, out ReadOnlySpan<byte> sdp)
            && SdpBodies.Count < 200)
        {
            SdpBodies.Add(sdp.ToArray());
        }
    }

    private void AddSkinnyMessages(byte[] stream)
    {
        int at = 0;
        while (at < stream.Length && SkinnyMessages.Count < 2000)
        {
            if (SkinnyFramer.TryFrame(stream.AsSpan(at), out int length, out _) != OperationStatus.Done || length <= 0)
            {
                break;
            }

            SkinnyMessages.Add(stream.AsSpan(at, length).ToArray());
            at += length;
        }
    }

    private static byte[] Concatenate(IEnumerable<byte[]> parts)
    {
        var all = new List<byte>();
        foreach (byte[] part in parts)
        {
            if (all.Count + part.Length > MaxStream)
            {
                break;
            }

            all.AddRange(part);
        }

        return [.. all];
    }
}

/// <summary>Classic pcap files (microsecond timestamps) written from frames, as the pipeline target's seeds.</summary>
internal static class PcapFile
{
    public const int GlobalHeaderSize = 24;
    public const int RecordHeaderSize = 16;

    public static byte[] Write(int linkType, IEnumerable<(long Ts, byte[] Frame)> frames, int maxBytes)
    {
        var file = new List<byte>(maxBytes);
        Span<byte> header = stackalloc byte[GlobalHeaderSize];
        BinaryPrimitives.WriteUInt32LittleEndian(header, 0xA1B2C3D4);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], 4);
        BinaryPrimitives.WriteUInt32LittleEndian(header[16..], 65535);
        BinaryPrimitives.WriteUInt32LittleEndian(header[20..], (uint)linkType);
        file.AddRange(header);
        Span<byte> record = stackalloc byte[RecordHeaderSize];
        foreach ((long ts, byte[] frame) in frames)
        {
            if (file.Count + RecordHeaderSize + frame.Length > maxBytes)
            {
                break;
            }

            BinaryPrimitives.WriteUInt32LittleEndian(record, (uint)(ts / 1_000_000_000));
            BinaryPrimitives.WriteUInt32LittleEndian(record[4..], (uint)(ts % 1_000_000_000 / 1000));
            BinaryPrimitives.WriteUInt32LittleEndian(record[8..], (uint)frame.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(record[12..], (uint)frame.Length);
            file.AddRange(record);
            file.AddRange(frame);
        }

        return [.. file];
    }
}
