// DDR read-latency model (simulation only): sits on the AR channel between an AXI4 read master
// and cocotbext-axi's AxiRam (which answers at once). Every accepted AR waits LAT cycles in a
// FIFO of DEPTH entries before it is offered to the RAM, in order, so each burst's first R beat
// comes >= LAT cycles after its AR handshake while later bursts stay pipelined behind it (the
// DDR controller's behaviour: latency, not serialization). A full FIFO drops s_arready.
// Measures what the master sees: lat_min / lat_max (AR handshake to the burst's first R beat),
// bursts (ARs accepted) and beats (R beats accepted); proto_err (sticky) flags a master that
// breaks the rules checked here: ARVALID dropped or ARADDR/ARLEN changed before ARREADY, a burst
// longer than 16 beats (AXI3) or one crossing a 4 KB boundary.
`default_nettype none
module accel_ar_delay #(
    parameter LAT = 40, parameter DEPTH = 4, parameter ADDR_W = 32   // DEPTH: a power of two
) (
    input  wire              clk,
    input  wire              rst_n,
    input  wire [ADDR_W-1:0] s_araddr,
    input  wire [7:0]        s_arlen,
    input  wire              s_arvalid,
    output wire              s_arready,
    output wire [ADDR_W-1:0] m_araddr,
    output wire [7:0]        m_arlen,
    output wire              m_arvalid,
    input  wire              m_arready,
    input  wire              r_beat,     // R handshake (master side)
    input  wire              r_last,
    output reg  [31:0]       lat_min,
    output reg  [31:0]       lat_max,
    output reg  [31:0]       bursts,
    output reg  [31:0]       beats,
    output reg               proto_err
);
    reg held;                                  // an AR was offered and not taken last cycle
    reg [ADDR_W+7:0] held_ar;
    wire [12:0] end4k = {1'b0, s_araddr[11:0]} + ({5'd0, s_arlen} + 13'd1) * 13'd8;
    localparam AW = $clog2(DEPTH);
    localparam MW = 64;                        // ts FIFO of bursts in flight (master side)
    reg [ADDR_W+8+31:0] q [0:DEPTH-1];
    reg [AW:0] wp, rp;
    reg [31:0] now;
    reg [31:0] ts [0:MW-1];
    reg [5:0] twp, trp;
    reg first;                                 // the next R beat opens a burst
    wire [ADDR_W+8+31:0] head = q[rp[AW-1:0]];
    wire empty = (wp == rp);
    wire [AW:0] used = wp - rp;                // in AW+1 bits: the pointers wrap
    assign s_arready = (used != DEPTH);
    assign {m_araddr, m_arlen} = head[ADDR_W+8+31:32];
    assign m_arvalid = !empty && (now - head[31:0] >= LAT);
    wire [31:0] lat = now - ts[trp];
    always @(posedge clk) begin
        if (s_arvalid && s_arready) begin
            q[wp[AW-1:0]] <= {s_araddr, s_arlen, now};
            ts[twp] <= now;
        end
    end
    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) begin
            wp <= 0; rp <= 0; now <= 0; twp <= 0; trp <= 0; first <= 1'b1;
            lat_min <= 32'hffffffff; lat_max <= 0; bursts <= 0; beats <= 0;
            proto_err <= 1'b0; held <= 1'b0; held_ar <= 0;
        end else begin
            held <= s_arvalid && !s_arready;
            held_ar <= {s_araddr, s_arlen};
            if (held && (!s_arvalid || held_ar != {s_araddr, s_arlen})) proto_err <= 1'b1;
            if (s_arvalid && (s_arlen > 15 || end4k > 13'd4096)) proto_err <= 1'b1;
            now <= now + 1;
            if (s_arvalid && s_arready) begin
                wp <= wp + 1'b1; twp <= twp + 1'b1; bursts <= bursts + 1;
            end
            if (m_arvalid && m_arready) rp <= rp + 1'b1;
            if (r_beat) begin
                beats <= beats + 1;
                first <= r_last;
                if (first) begin
                    trp <= trp + 1'b1;
                    if (lat < lat_min) lat_min <= lat;
                    if (lat > lat_max) lat_max <= lat;
                end
            end
        end
    end
endmodule
`default_nettype wire
