// AXI4 read master for one layer's DDR-resident weights (issue 14), 64-bit data, feeding the
// s_w weight stream of an accel_mvau_tile.
//
// The blob (accel/rtl/ddr.py: blob_bytes) is the layer's NF*SF weight words of WORD_BITS bits,
// ROM order, concatenated LSB-first with no gaps, padded with zeros to whole 8-byte beats:
// BEATS = ceil(WORDS*WORD_BITS/64) beats at [base, base + 8*BEATS). base must be 8-byte aligned.
//
// Free-running: while en is high the master reads the blob REPEAT times per image (REPEAT = tiles
// per image) and then starts the next image at once; base is sampled when an image's first pass
// starts (so the AXI-Lite register may change between images). en low stops new images only.
// Bursts: INCR, ARSIZE 8 bytes, at most 16 beats (AXI3 HP ports of the Zynq-7000), never
// across a 4 KB boundary; ARID 0, so responses return in order. Up to MAX_BURSTS bursts in
// flight, and a burst is only issued when the R FIFO (FIFO_BEATS) has room for all the beats
// reserved so far, so RREADY never drops (the DDR side is never blocked by a slow consumer).
// R data -> FIFO -> width converter: a word leaves when WORD_BITS bits are buffered; a 64-bit
// beat is taken only while fewer are, so the converter delivers a word per ceil(WW/64)+1 cycles
// at most; after each pass's last word the pad bits are dropped (the next pass starts aligned).
// err: sticky, set by any RRESP other than OKAY.
`default_nettype none
module accel_axi_wread #(
    parameter ADDR_W     = 32,
    parameter WORD_BITS  = 64,
    parameter WORDS      = 1,    // words per pass (NF*SF)
    parameter REPEAT     = 1,    // passes per image
    parameter MAX_BURSTS = 4,
    parameter FIFO_BEATS = 64    // >= 16
) (
    input  wire                 clk,
    input  wire                 rst_n,
    input  wire                 en,
    input  wire [ADDR_W-1:0]    base,
    output reg                  err,
    output wire [0:0]           m_axi_arid,
    output reg  [ADDR_W-1:0]    m_axi_araddr,
    output reg  [7:0]           m_axi_arlen,
    output wire [2:0]           m_axi_arsize,
    output wire [1:0]           m_axi_arburst,
    output wire [3:0]           m_axi_arcache,
    output wire [2:0]           m_axi_arprot,
    output reg                  m_axi_arvalid,
    input  wire                 m_axi_arready,
    input  wire [0:0]           m_axi_rid,
    input  wire [63:0]          m_axi_rdata,
    input  wire [1:0]           m_axi_rresp,
    input  wire                 m_axi_rlast,
    input  wire                 m_axi_rvalid,
    output wire                 m_axi_rready,
    output wire [WORD_BITS-1:0] m_w_data,
    output wire                 m_w_valid,
    input  wire                 m_w_ready
);
    localparam BEATS = (WORDS * WORD_BITS + 63) / 64;
    localparam BW  = $clog2(BEATS + 1);
    localparam RPW = $clog2(REPEAT + 1);
    localparam OW  = $clog2(MAX_BURSTS + 1);
    localparam CW  = $clog2(FIFO_BEATS + 17);
    localparam GW  = $clog2(WORD_BITS + 64 + 1);
    localparam WCW = $clog2(WORDS + 1);

    generate
        if (FIFO_BEATS < 16 || MAX_BURSTS < 1 || WORDS < 1 || REPEAT < 1) begin : g_bad
            accel_axi_wread_error_bad_parameters u_error ();
        end
    endgenerate

    assign m_axi_arid = 1'b0;
    assign m_axi_arsize = 3'd3;      // 8 bytes per beat
    assign m_axi_arburst = 2'b01;    // INCR
    assign m_axi_arcache = 4'b0011;  // normal, bufferable (the HP port's usual setting)
    assign m_axi_arprot = 3'b000;

    // ---- AR: burst addresses ----
    reg active;
    reg [ADDR_W-1:0] addr, pbase;
    reg [BW-1:0] rem;                // beats of the pass not yet requested
    reg [RPW-1:0] rep;
    reg [OW-1:0] outs;               // bursts requested, last beat not yet received
    reg [CW-1:0] reserved;           // FIFO beats promised to requested bursts, not yet popped
    // The next burst's length (<= 16 beats, never across 4 KB) is registered: computed in the
    // cycle after rem or addr change and used from the next (len_ok), so the burst arithmetic
    // and the FIFO reservation are two short paths instead of one of 13 LUT levels (measured by
    // accel/rtl/timing.py on SqueezeNet v1.1's DDR layers). It costs no request slot: after a
    // request ARVALID stays high for at least one cycle, in which the new length settles.
    wire [12:0] to4k = 13'd4096 - {1'b0, addr[11:0]};
    wire [BW+4:0] b16 = (rem < 16) ? rem : 16;
    reg  [4:0] len;                 // 1..16
    reg  len_ok;
    wire can = active && len_ok && !m_axi_arvalid && (outs < MAX_BURSTS) &&
               (reserved + len <= FIFO_BEATS);
    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) begin
            len <= 5'd0; len_ok <= 1'b0;
        end else begin
            len <= (b16 < to4k[12:3]) ? b16[4:0] : to4k[7:3];
            len_ok <= active && !can && !(!active && en);  // rem/addr stable since last edge
        end
    end
    wire rbeat = m_axi_rvalid && m_axi_rready;
    wire fpop;
    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) begin
            active <= 1'b0; addr <= 0; pbase <= 0; rem <= 0; rep <= 0; outs <= 0;
            reserved <= 0; m_axi_arvalid <= 1'b0; m_axi_araddr <= 0; m_axi_arlen <= 0;
            err <= 1'b0;
        end else begin
            if (!active && en) begin
                active <= 1'b1; addr <= base; pbase <= base; rem <= BEATS; rep <= 0;
            end
            if (m_axi_arvalid && m_axi_arready) m_axi_arvalid <= 1'b0;
            if (can) begin
                m_axi_arvalid <= 1'b1; m_axi_araddr <= addr; m_axi_arlen <= len - 1;
                if (rem == len) begin                // the pass's last burst
                    rem <= BEATS;
                    if (rep == REPEAT - 1) begin     // the image's last pass
                        rep <= 0;
                        if (en) begin
                            addr <= base; pbase <= base;
                        end else begin
                            active <= 1'b0;
                        end
                    end else begin
                        rep <= rep + 1'b1; addr <= pbase;
                    end
                end else begin
                    rem <= rem - len; addr <= addr + (len << 3);
                end
            end
            outs <= outs + (can ? 1'b1 : 1'b0) - ((rbeat && m_axi_rlast) ? 1'b1 : 1'b0);
            reserved <= reserved + (can ? len : 0) - (fpop ? 1'b1 : 1'b0);
            if (rbeat && m_axi_rresp != 2'b00) err <= 1'b1;
        end
    end

    // ---- R: FIFO (room reserved at AR time, so it never refuses a beat) ----
    wire [63:0] f_data;
    wire f_valid, f_last_unused, f_ready;
    accel_fifo #(.W(64), .DEPTH(FIFO_BEATS)) u_fifo (
        .clk(clk), .rst_n(rst_n), .s_data(m_axi_rdata), .s_last(m_axi_rlast),
        .s_valid(m_axi_rvalid), .s_ready(m_axi_rready), .m_data(f_data), .m_last(f_last_unused),
        .m_valid(f_valid), .m_ready(f_ready));

    // ---- width converter: 64-bit beats -> WORD_BITS words ----
    reg [WORD_BITS+63:0] gb;
    reg [GW-1:0] cnt;                // valid bits in gb (low end)
    reg [WCW-1:0] wc;                // words emitted in this pass
    assign f_ready = (cnt < WORD_BITS);
    assign fpop = f_valid && f_ready;
    assign m_w_valid = (cnt >= WORD_BITS);
    assign m_w_data = gb[WORD_BITS-1:0];
    wire emit = m_w_valid && m_w_ready;
    wire [WORD_BITS+63:0] beat_in = {{WORD_BITS{1'b0}}, f_data};
    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) begin
            gb <= 0; cnt <= 0; wc <= 0;
        end else if (fpop) begin
            gb <= gb | (beat_in << cnt); cnt <= cnt + 7'd64;
        end else if (emit) begin
            if (wc == WORDS - 1) begin               // drop the pass's pad bits
                gb <= 0; cnt <= 0; wc <= 0;
            end else begin
                gb <= gb >> WORD_BITS; cnt <= cnt - WORD_BITS; wc <= wc + 1'b1;
            end
        end
    end
endmodule
`default_nettype wire
