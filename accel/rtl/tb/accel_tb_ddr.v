// Simulation-only DDR model for one AXI4 read port of accel_top (weights in DDR, issue 14): an
// AXI4 read slave over a copy of weights.bin ($readmemh of tb_ddr.mem, one 64-bit word a line)
// at base. Every accepted AR waits >= +ddr_lat=<cycles> (default 40) in a FIFO of DEPTH bursts
// before its data starts, in order, so later bursts stay pipelined behind it (a DDR
// controller's latency, not serialization). Pseudo-random stalls (xorshift32, +ddr_stall=P
// percent): ARREADY low and R beats held back. Python never acts per clock.
// Measures for the testbench: bursts and beats accepted, the least AR-to-first-beat latency, the
// traffic of the first +images=N images (img_bursts, img_beats requested: the ARs before the one
// that starts pass N*PASSES + 1 at base + START; the master runs ahead into the next image, so
// the totals are more), and err (sticky): a burst longer than 16 beats or crossing 4 KB,
// ARVALID dropped or the AR changed before ARREADY, ARSIZE other than 8 bytes, or a read outside
// the image.
`timescale 1ns/1ps
`default_nettype none
module accel_tb_ddr #(
    parameter WORDS = 1,          // 64-bit words of the image
    parameter SEED = 1,           // per port: different stall patterns
    parameter START = 0,          // the layer's blob: byte offset from base (a pass starts there)
    parameter PASSES = 1,         // passes over the blob per image
    parameter DEPTH = 4           // ARs in flight (a power of two)
) (
    input  wire        clk,
    input  wire        rst_n,
    input  wire [31:0] base,      // the image's byte address (8-byte aligned)
    input  wire [0:0]  arid,
    input  wire [31:0] araddr,
    input  wire [7:0]  arlen,
    input  wire [2:0]  arsize,
    input  wire        arvalid,
    output wire        arready,
    output wire [0:0]  rid,
    output reg  [63:0] rdata,
    output wire [1:0]  rresp,
    output reg         rlast,
    output reg         rvalid,
    input  wire        rready,
    output reg  [31:0] bursts,
    output reg  [31:0] beats,
    output reg  [31:0] lat_min,
    output reg  [31:0] img_bursts,
    output reg  [31:0] img_beats,
    output reg         err
);
    reg [63:0] mem [0:WORDS-1];
    integer lat, stall, seed, images;
    initial begin
        if (!$value$plusargs("images=%d", images)) images = 1;
        if (!$value$plusargs("ddr_lat=%d", lat)) lat = 40;
        if (!$value$plusargs("ddr_stall=%d", stall)) stall = 0;
        if (!$value$plusargs("seed=%d", seed)) seed = 1;
        $readmemh("tb_ddr.mem", mem);
    end
    assign rid = 1'b0;
    assign rresp = 2'b00;

    localparam AW = $clog2(DEPTH);
    reg [31+8+32:0] q [0:DEPTH-1];   // {araddr, arlen, accept cycle}
    reg [AW:0] wp, rp;
    reg [31:0] now;
    reg [31:0] r1;
    wire [31:0] r1n = r1 ^ (r1 << 13) ^ ((r1 ^ (r1 << 13)) >> 17);
    wire [31:0] r1x = r1n ^ (r1n << 5);
    reg ar_go, r_go;                 // this cycle's random permissions
    wire [AW:0] used = wp - rp;
    assign arready = (used != DEPTH) && ar_go;
    wire [71:0] head = q[rp[AW-1:0]];
    wire ready_head = (wp != rp) && (now - head[31:0] >= lat);

    reg held;                        // an AR offered and not taken last cycle
    reg [39:0] held_ar;
    wire [12:0] end4k = {1'b0, araddr[11:0]} + ({5'd0, arlen} + 13'd1) * 13'd8;

    reg busy;
    reg [31:0] idx, t0;              // word of the next beat; its burst's accept cycle
    reg [8:0] left;                  // beats of the burst not yet presented
    reg first;                       // the next handshake opens a burst
    reg [31:0] passes;               // passes started
    reg counting;
    wire pass_start = (araddr == base + START);
    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) begin
            r1 <= 32'h2545f491 ^ (seed * 32'h9e3779b9) ^ (SEED * 32'h85ebca6b);
            ar_go <= 1'b0; r_go <= 1'b0; wp <= 0; rp <= 0; now <= 0;
            held <= 1'b0; held_ar <= 0; busy <= 1'b0; idx <= 0; t0 <= 0; left <= 0;
            first <= 1'b1; rvalid <= 1'b0; rlast <= 1'b0; rdata <= 0;
            bursts <= 0; beats <= 0; lat_min <= 32'hffffffff; err <= 1'b0;
            passes <= 0; counting <= 1'b1; img_bursts <= 0; img_beats <= 0;
        end else begin
            now <= now + 1;
            r1 <= r1x;
            ar_go <= (r1x % 100) >= stall;
            r_go <= ((r1x >> 8) % 100) >= stall;
            // AR: accept, check the rules
            held <= arvalid && !arready;
            held_ar <= {araddr, arlen};
            if (held && (!arvalid || held_ar != {araddr, arlen})) err <= 1'b1;
            if (arvalid && (arlen > 15 || end4k > 13'd4096 || arsize != 3'd3)) err <= 1'b1;
            if (arvalid && arready) begin
                q[wp[AW-1:0]] <= {araddr, arlen, now};
                wp <= wp + 1'b1;
                bursts <= bursts + 1;
                if (pass_start) passes <= passes + 1;
                if (counting && pass_start && passes == images * PASSES) counting <= 1'b0;
                else if (counting) begin
                    img_bursts <= img_bursts + 1; img_beats <= img_beats + arlen + 1;
                end
            end
            // R: a beat is held until taken (AXI), the next one may follow at once
            if (rvalid && rready) begin
                beats <= beats + 1;
                first <= rlast;
                if (first && now - t0 < lat_min) lat_min <= now - t0;
            end
            if (!rvalid || rready) begin
                if (busy && left != 0 && r_go) begin
                    if (idx >= WORDS) err <= 1'b1;
                    rvalid <= 1'b1; rdata <= mem[idx]; rlast <= (left == 1);
                    idx <= idx + 1; left <= left - 1'b1;
                    if (left == 1) busy <= 1'b0;
                end else begin
                    rvalid <= 1'b0;
                    if (!busy && ready_head) begin      // the head burst's latency is over
                        busy <= 1'b1; rp <= rp + 1'b1;
                        idx <= (head[71:40] - base) >> 3; left <= head[39:32] + 1;
                        t0 <= head[31:0];
                        if (head[71:40] < base) err <= 1'b1;
                    end
                end
            end
        end
    end
endmodule
`default_nettype wire
